// plot.png from a synthetic log: the size, and the curves' colours exactly where the documented
// mapping (decade-rounded log axis for losses, whole dB +-1 for PSNR, steps from 0) puts them.
import { describe, it, expect } from 'vitest';
import { decodeImage } from '../../src/image/image.js';
import { encodePng } from '../../src/image/png.js';
import { renderPlot, PLOT_LAYOUT, SERIES_COLORS, type LogRecord, type Rect } from '../../src/train/plot.js';

describe('plot', () => {
  it('draws the loss and PSNR curves where they must pass', () => {
    const recs: LogRecord[] = [];
    // phase 1: mse constant at 10^-1.5 while another term spans [1e-2, 1]: the axis is [1e-2, 1e0]
    for (let s = 10; s <= 1000; s += 10) recs.push({ step: s, phase: 1, mse: 10 ** -1.5 });
    recs.push({ step: 1000, phase: 2, content: 1e-2, adversarial: 1, loss_d: 0.5 });
    // validation every 100 steps: PSNR 20 -> 29 dB (axis [19, 30]), bicubic flat at 22.5
    for (let k = 1; k <= 10; k++) recs.push({ step: 100 * k, validation: { psnrY: 19 + k }, bicubic: { psnrY: 22.5 } });
    const png = encodePng(renderPlot(recs));
    const img = decodeImage(png, 'plot.png');
    expect([img.width, img.height, img.channels]).toEqual([PLOT_LAYOUT.width, PLOT_LAYOUT.height, 4]);

    const px = (x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 3), (v) => Math.round(v * 255));
    /** True if the colour appears within 1 pixel of (x, y). */
    const near = (x: number, y: number, c: number[]) => {
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        if (px(Math.round(x) + dx, Math.round(y) + dy).every((v, i) => v === c[i])) return true;
      }
      return false;
    };
    const X = (r: Rect, step: number) => r.x0 + (step / 1000) * (r.x1 - r.x0);
    const Y = (r: Rect, f: number) => r.y1 - f * (r.y1 - r.y0); // f: fraction of the axis from the bottom
    const { loss, psnr } = PLOT_LAYOUT;
    for (const s of [50, 333, 700, 990]) {
      expect(near(X(loss, s), Y(loss, 0.25), SERIES_COLORS.mse), `mse at step ${s}`).toBe(true);
      // psnr(s) = 19 + s/100 on [100, 1000]; axis 19..30
      if (s >= 100) expect(near(X(psnr, s), Y(psnr, (s / 100) / 11), SERIES_COLORS.psnr), `psnr at step ${s}`).toBe(true);
      if (s >= 100) expect(near(X(psnr, s), Y(psnr, 3.5 / 11), SERIES_COLORS.bicubic), `bicubic at step ${s}`).toBe(true);
    }
    // and not elsewhere: the mse colour is absent from the upper half of the loss panel
    for (let y = loss.y0 + 2; y < Y(loss, 0.5); y++) for (let x = loss.x0 + 2; x < loss.x1; x++) {
      expect(px(x, y)).not.toEqual(SERIES_COLORS.mse);
    }
    expect(px(Math.round(X(loss, 500)) + 3, Math.round(Y(loss, 0.75)))).toEqual([255, 255, 255]);
  });

  it('adds a panel for validation\'s VGG distance when the log has one, with the mapping documented in plot.ts', () => {
    const recs: LogRecord[] = [{ step: 500, phase: 2, content: 1, adversarial: 0.7, loss_d: 1.3 }];
    // VGG distance 1500 -> 1300 over steps 100..500, bicubic flat at 1860: span 560, tick step 200, axis [1200, 2000]
    for (let k = 1; k <= 5; k++) {
      recs.push({ step: 100 * k, validation: { psnrY: 27, vgg: 1550 - 50 * k }, bicubic: { psnrY: 26, vgg: 1860 }, vggLayer: 'vgg34' });
    }
    const img = decodeImage(encodePng(renderPlot(recs)), 'plot.png');
    expect([img.width, img.height]).toEqual([PLOT_LAYOUT.width, PLOT_LAYOUT.heightWithVgg]);
    const px = (x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 3), (v) => Math.round(v * 255));
    const near = (x: number, y: number, c: number[]) => {
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (px(Math.round(x) + dx, Math.round(y) + dy).every((v, i) => v === c[i])) return true;
      return false;
    };
    const r = PLOT_LAYOUT.vgg;
    const X = (step: number) => r.x0 + (step / 500) * (r.x1 - r.x0);
    const Y = (v: number) => r.y1 - ((v - 1200) / 800) * (r.y1 - r.y0);
    for (const s of [120, 250, 333, 480]) {
      expect(near(X(s), Y(1550 - s / 2), SERIES_COLORS.vgg), `vgg at step ${s}`).toBe(true);
      expect(near(X(s), Y(1860), SERIES_COLORS.bicubic), `bicubic vgg at step ${s}`).toBe(true);
    }
    // a log without the distance keeps the two-panel size
    expect(renderPlot(recs.map((x) => (x.validation ? { step: x.step, validation: { psnrY: 27 } } : x))).height).toBe(PLOT_LAYOUT.height);
  });

  it('copes with a log of phase-1 steps only, and with a single record', () => {
    const one = renderPlot([{ step: 1, mse: 0.3 }]);
    expect(one.width).toBe(PLOT_LAYOUT.width);
    const noVal = renderPlot([{ step: 1, mse: 0.3 }, { step: 2, mse: 0 }, { step: 3, mse: 0.2 }]);
    expect(noVal.data.every(Number.isFinite)).toBe(true);
  });
});
