// Images on the CPU: the one float type every decoder returns and the helpers on it (RGB and alpha
// planes, quantisation to a bit depth, crops, EXIF orientation). Interleaved HWC float32 in [0, 1],
// with the channel count and bit depth the file had (gray stays gray, 16-bit stays 16-bit), so that
// what goes in can come out unchanged. Platform-neutral (imports nothing; compiled by
// tsconfig.engine.json), so src/srgan/ uses it too; the codecs are png.ts, jpeg.ts and bmp.ts, and
// image.ts chooses between them.

export interface Image {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  bitDepth: 8 | 16;
  /** Interleaved HWC, values 0..1. */
  data: Float32Array;
}

/** Refuse images whose float copy alone would be several GiB (and which no decoder here handles well). */
export const MAX_PIXELS = 1 << 28;

export function makeImage(width: number, height: number, channels: 1 | 2 | 3 | 4, bitDepth: 8 | 16 = 8, data?: Float32Array): Image {
  const n = width * height * channels;
  if (data && data.length !== n) throw new Error(`makeImage: data has ${data.length} values, want ${width}x${height}x${channels} = ${n}`);
  return { width, height, channels, bitDepth, data: data ?? new Float32Array(n) };
}

/** RGB (gray replicated) and, when the image has one, the alpha plane. Values as stored (0..1). */
export function toRGB(img: Omit<Image, 'bitDepth'>): { rgb: Float32Array; alpha?: Float32Array } {
  const { width, height, channels: c, data } = img;
  const n = width * height;
  const rgb = new Float32Array(n * 3);
  const hasAlpha = c === 2 || c === 4;
  const alpha = hasAlpha ? new Float32Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    if (c >= 3) {
      rgb[i * 3] = data[i * c];
      rgb[i * 3 + 1] = data[i * c + 1];
      rgb[i * 3 + 2] = data[i * c + 2];
    } else {
      const g = data[i * c];
      rgb[i * 3] = g;
      rgb[i * 3 + 1] = g;
      rgb[i * 3 + 2] = g;
    }
    if (alpha) alpha[i] = data[i * c + c - 1];
  }
  return alpha ? { rgb, alpha } : { rgb };
}

/** The inverse of toRGB: an RGB or RGBA image from planes of interleaved RGB and optional alpha. */
export function fromRGB(width: number, height: number, rgb: Float32Array, alpha?: Float32Array, bitDepth: 8 | 16 = 8): Image {
  const n = width * height;
  if (rgb.length !== n * 3) throw new Error(`fromRGB: rgb has ${rgb.length} values, want ${n * 3}`);
  if (!alpha) return makeImage(width, height, 3, bitDepth, Float32Array.from(rgb));
  if (alpha.length !== n) throw new Error(`fromRGB: alpha has ${alpha.length} values, want ${n}`);
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    out[i * 4] = rgb[i * 3];
    out[i * 4 + 1] = rgb[i * 3 + 1];
    out[i * 4 + 2] = rgb[i * 3 + 2];
    out[i * 4 + 3] = alpha[i];
  }
  return makeImage(width, height, 4, bitDepth, out);
}

/** Values snapped to what the image's bit depth can store: round(clamp(v, 0, 1) * max) / max. */
export function quantize(data: Float32Array, bitDepth: 8 | 16 = 8): Float32Array {
  const max = bitDepth === 16 ? 65535 : 255;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round(clamp01(data[i]) * max) / max;
  return out;
}

/** A rectangle cut out of an image (x, y: top-left corner). */
export function cropImage(img: Image, x: number, y: number, w: number, h: number): Image {
  if (x < 0 || y < 0 || w < 0 || h < 0 || x + w > img.width || y + h > img.height) {
    throw new Error(`cropImage: ${w}x${h}+${x}+${y} is outside the ${img.width}x${img.height} image`);
  }
  const c = img.channels;
  const out = new Float32Array(w * h * c);
  for (let r = 0; r < h; r++) {
    const s = ((y + r) * img.width + x) * c;
    out.set(img.data.subarray(s, s + w * c), r * w * c);
  }
  return makeImage(w, h, c, img.bitDepth, out);
}

export function clamp01(v: number): number {
  return v > 0 ? (v < 1 ? v : 1) : 0; // NaN -> 0
}

/**
 * Applies an EXIF orientation (1..8) so the result is the upright picture. For output pixel
 * (ox, oy) the stored pixel read is given per orientation; 5..8 swap width and height.
 */
export function applyOrientation(img: Image, orientation: number): Image {
  if (orientation < 2 || orientation > 8) return img;
  const { width: W, height: H, channels: c, data } = img;
  const swap = orientation >= 5;
  const ow = swap ? H : W;
  const oh = swap ? W : H;
  const out = new Float32Array(data.length);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      let sx: number, sy: number;
      switch (orientation) {
        case 2: sx = W - 1 - ox; sy = oy; break; // mirrored
        case 3: sx = W - 1 - ox; sy = H - 1 - oy; break; // rotated 180
        case 4: sx = ox; sy = H - 1 - oy; break; // flipped vertically
        case 5: sx = oy; sy = ox; break; // transposed
        case 6: sx = oy; sy = H - 1 - ox; break; // stored rotated 90 CCW: turn 90 CW
        case 7: sx = W - 1 - oy; sy = H - 1 - ox; break; // transverse
        default: sx = W - 1 - oy; sy = ox; break; // 8: stored rotated 90 CW: turn 90 CCW
      }
      const s = (sy * W + sx) * c;
      const d = (oy * ow + ox) * c;
      for (let k = 0; k < c; k++) out[d + k] = data[s + k];
    }
  }
  return { width: ow, height: oh, channels: c, bitDepth: img.bitDepth, data: out };
}
