// plot.png of a run, drawn from its log.jsonl records: losses against steps (log-scale y) above,
// validation Y-PSNR (and the bicubic baseline) against steps below, and, when validation logged a
// VGG feature distance (phase 2), that distance (and bicubic's) in a third panel. Plain RGBA pixels
// with a 3x5 bitmap font, so that a run folder explains itself without Python or a plotting library.
//
// Mapping (tests rely on it): x = step in [0, last step] across each panel's plot rectangle; the
// loss panel spans whole decades [10^floor(log10 min), 10^ceil(log10 max)]; the PSNR panel spans
// [floor(min) - 1, ceil(max) + 1] dB; the VGG panel [floor(min / t) * t, ceil(max / t) * t] with t
// the tick step niceStep(max - min, 5) (max / 10 when all values are equal). Each maps the top value
// to the rectangle's top row.
import type { Image } from '../image/pixels.js';

export interface LogRecord {
  step: number; phase?: number;
  mse?: number; l1?: number; content?: number; adversarial?: number; loss_d?: number;
  validation?: { psnrY: number; vgg?: number }; bicubic?: { psnrY: number; vgg?: number };
  /** The VGG19 layer of validation's feature distance ('vgg22', 'vgg34', 'vgg54'). */
  vggLayer?: string;
}

export interface Rect { x0: number; y0: number; x1: number; y1: number }

export const PLOT_LAYOUT = {
  width: 800, height: 600,
  loss: { x0: 64, y0: 24, x1: 784, y1: 270 } as Rect,
  psnr: { x0: 64, y0: 326, x1: 784, y1: 572 } as Rect,
  /** The VGG panel, below the others, in a taller image (heightWithVgg) when the log has the distance. */
  vgg: { x0: 64, y0: 628, x1: 784, y1: 874 } as Rect,
  heightWithVgg: 902,
};

type Rgb = [number, number, number];
const BACKGROUND: Rgb = [255, 255, 255];
const AXIS: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
/** Curve colours by log key (and 'bicubic' for the baseline). */
export const SERIES_COLORS: Record<string, Rgb> = {
  mse: [31, 119, 180], l1: [23, 190, 207], content: [255, 127, 14], adversarial: [44, 160, 44],
  loss_d: [214, 39, 40], psnr: [31, 119, 180], bicubic: [150, 150, 150], vgg: [148, 103, 189],
};
const LOSS_KEYS = ['mse', 'l1', 'content', 'adversarial', 'loss_d'] as const;
const LABELS: Record<string, string> = {
  mse: 'MSE', l1: 'L1', content: 'CONTENT', adversarial: 'ADV', loss_d: 'D', psnr: 'Y-PSNR', bicubic: 'BICUBIC', vgg: 'VGG DIST',
};

// 3x5 glyphs, one string of 5 rows of 3 bits each; enough for numbers and the legend.
const FONT: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111',
  '4': '101101111001001', '5': '111100111001111', '6': '111100111101111', '7': '111001010010010',
  '8': '111101111101111', '9': '111101111001111', '.': '000000000000010', '-': '000000111000000',
  '+': '000010111010000', 'e': '000111101110011', 'k': '100101110101101', ' ': '000000000000000',
  A: '010101111101101', B: '110101110101110', C: '011100100100011', D: '110101101101110',
  E: '111100110100111', G: '011100101101011', I: '111010010010111', K: '101101110101101', L: '100100100100111',
  M: '101111111101101', N: '110101101101101', O: '010101101101010', P: '110101110100100',
  R: '110101110101101', S: '011100010001110', T: '111010010010010', U: '101101101101111',
  V: '101101101101010', Y: '101101010010010',
};

class Canvas {
  readonly px: Uint8Array;
  constructor(readonly w: number, readonly h: number) {
    this.px = new Uint8Array(w * h * 4);
    for (let i = 0; i < w * h; i++) this.px.set([...BACKGROUND, 255], i * 4);
  }
  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x); y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    this.px.set(c, (y * this.w + x) * 4);
  }
  /** Bresenham line, `t` pixels thick. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, t = 1): void {
    x0 = Math.round(x0); y0 = Math.round(y0); x1 = Math.round(x1); y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      for (let a = 0; a < t; a++) for (let b = 0; b < t; b++) this.set(x0 + a, y0 + b, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) { err += dy; x0 += sx; }
      if (e2 <= dx) { err += dx; y0 += sy; }
    }
  }
  /** Text at 2x scale (6x10 pixels a glyph, 8 apart); `align` 1 right-aligns at x. */
  text(s: string, x: number, y: number, c: Rgb = AXIS, align: 0 | 0.5 | 1 = 0): void {
    x = Math.round(x - align * (s.length * 8 - 2));
    for (const ch of s) {
      const g = FONT[ch] ?? FONT[ch.toUpperCase()] ?? FONT[' '];
      for (let r = 0; r < 5; r++) for (let k = 0; k < 3; k++) {
        if (g[r * 3 + k] === '1') for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) this.set(x + 2 * k + a, y + 2 * r + b, c);
      }
      x += 8;
    }
  }
}

/** Round tick spacing (1, 2 or 5 times a power of ten) giving about `n` ticks over `span`. */
function niceStep(span: number, n: number): number {
  const raw = span / n, p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
}

// loops, not Math.min(...v): a long run's log has more values than a call takes arguments
const minOf = (v: number[]) => v.reduce((m, x) => Math.min(m, x), Infinity);
const maxOf = (v: number[]) => v.reduce((m, x) => Math.max(m, x), -Infinity);
const fmtStep = (v: number) => (v >= 10000 && v % 1000 === 0 ? `${v / 1000}k` : String(v));

function drawPanel(cv: Canvas, r: Rect, xMax: number, yLo: number, yHi: number, yTicks: Array<[number, string]>,
  series: Array<{ key: string; pts: Array<[number, number]>; thick: number; label?: string }>, ymap: (v: number) => number): void {
  const X = (s: number) => r.x0 + (s / xMax) * (r.x1 - r.x0);
  const Y = (v: number) => r.y1 - ((ymap(v) - yLo) / (yHi - yLo)) * (r.y1 - r.y0);
  // grid and ticks first, curves over them, axes last
  const xs = niceStep(xMax, 8);
  for (let s = 0; s <= xMax + 1e-9; s += xs) {
    cv.line(X(s), r.y0, X(s), r.y1, GRID);
    cv.text(fmtStep(s), X(s), r.y1 + 6, AXIS, 0.5);
  }
  for (const [v, label] of yTicks) {
    cv.line(r.x0, Y(v), r.x1, Y(v), GRID);
    cv.text(label, r.x0 - 6, Y(v) - 5, AXIS, 1);
  }
  let lx = r.x0 + 4;
  for (const s of series) {
    const c = SERIES_COLORS[s.key];
    for (let i = 1; i < s.pts.length; i++) cv.line(X(s.pts[i - 1][0]), Y(s.pts[i - 1][1]), X(s.pts[i][0]), Y(s.pts[i][1]), c, s.thick);
    if (s.pts.length === 1) cv.line(X(s.pts[0][0]) - 2, Y(s.pts[0][1]), X(s.pts[0][0]) + 2, Y(s.pts[0][1]), c, s.thick + 1);
    // legend above the rectangle: a swatch and the name
    cv.line(lx, r.y0 - 11, lx + 12, r.y0 - 11, c, 3);
    const label = s.label ?? LABELS[s.key];
    cv.text(label, lx + 18, r.y0 - 16);
    lx += 18 + label.length * 8 + 16;
  }
  cv.text('STEP', r.x1, r.y1 + 18, AXIS, 1);
  cv.line(r.x0, r.y0, r.x0, r.y1, AXIS);
  cv.line(r.x0, r.y1, r.x1, r.y1, AXIS);
}

/** Draws the plot of a run's log records (steps records and validation records, in any order). */
export function renderPlot(records: LogRecord[]): Image {
  const { width, loss, psnr, vgg } = PLOT_LAYOUT;
  const val = records.filter((r) => r.validation && Number.isFinite(r.validation.psnrY));
  const withVgg = val.filter((r) => Number.isFinite(r.validation!.vgg));
  const height = withVgg.length ? PLOT_LAYOUT.heightWithVgg : PLOT_LAYOUT.height;
  const cv = new Canvas(width, height);
  const xMax = records.reduce((m, r) => Math.max(m, r.step), 1);

  const lossSeries = LOSS_KEYS.map((key) => ({
    key, thick: 1,
    pts: records.filter((r) => typeof r[key] === 'number' && r[key]! > 0 && Number.isFinite(r[key])).map((r): [number, number] => [r.step, r[key]!]),
  })).filter((s) => s.pts.length);
  const vals = lossSeries.flatMap((s) => s.pts.map((p) => p[1]));
  if (vals.length) {
    const lo = Math.floor(Math.log10(minOf(vals))), hi0 = Math.ceil(Math.log10(maxOf(vals)));
    const hi = hi0 > lo ? hi0 : lo + 1;
    const every = Math.ceil((hi - lo) / 8); // at most about 8 labelled decades
    const ticks: Array<[number, string]> = [];
    for (let d = lo; d <= hi; d += every) ticks.push([10 ** d, `1e${d}`]);
    drawPanel(cv, loss, xMax, lo, hi, ticks, lossSeries, Math.log10);
  }

  if (val.length) {
    const series = [
      { key: 'bicubic', thick: 1, pts: val.filter((r) => r.bicubic).map((r): [number, number] => [r.step, r.bicubic!.psnrY]) },
      { key: 'psnr', thick: 2, pts: val.map((r): [number, number] => [r.step, r.validation!.psnrY]) },
    ].filter((s) => s.pts.length);
    const ys = series.flatMap((s) => s.pts.map((p) => p[1]));
    const lo = Math.floor(minOf(ys)) - 1, hi = Math.ceil(maxOf(ys)) + 1;
    const st = niceStep(hi - lo, 6);
    const ticks: Array<[number, string]> = [];
    for (let v = Math.ceil(lo / st) * st; v <= hi; v += st) ticks.push([v, String(Number(v.toFixed(6)))]);
    drawPanel(cv, psnr, xMax, lo, hi, ticks, series, (v) => v);
  }

  if (withVgg.length) {
    const layer = withVgg[withVgg.length - 1].vggLayer;
    const series = [
      { key: 'bicubic', thick: 1, pts: withVgg.filter((r) => Number.isFinite(r.bicubic?.vgg)).map((r): [number, number] => [r.step, r.bicubic!.vgg!]) },
      { key: 'vgg', thick: 2, label: layer ? `${layer.toUpperCase()} DIST` : undefined, pts: withVgg.map((r): [number, number] => [r.step, r.validation!.vgg!]) },
    ].filter((s) => s.pts.length);
    const ys = series.flatMap((s) => s.pts.map((p) => p[1]));
    const mn = minOf(ys), mx = maxOf(ys);
    const st = niceStep(mx > mn ? mx - mn : Math.abs(mx) / 10 || 1, 5);
    const lo = Math.floor(mn / st) * st, hi0 = Math.ceil(mx / st) * st, hi = hi0 > lo ? hi0 : lo + st;
    const ticks: Array<[number, string]> = [];
    for (let v = lo; v <= hi + st / 2; v += st) ticks.push([v, String(Number(v.toFixed(6)))]);
    drawPanel(cv, vgg, xMax, lo, hi, ticks, series, (v) => v);
  }

  const data = new Float32Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = cv.px[i] / 255;
  return { width, height, channels: 4, bitDepth: 8, data };
}
