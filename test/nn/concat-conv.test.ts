// ops.ConcatConv (convs over a growing channel concatenation, ESRGAN's dense block) against the same
// convs over concatChannels: at inference (each piece transformed once, no concatenation built),
// with the Winograd path off (the fallback concatenates), and with gradients (the fallback's tape).
import { describe, it, expect, afterEach } from 'vitest';
import { testGpu, uniform, relErr } from '../helpers.js';
import { fromArray, noGrad, backward, tidy, type Tensor } from '../../src/nn/tensor.js';
import * as ops from '../../src/nn/ops.js';
import { conv2dTiles } from '../../src/kernels/conv2d.js';

const g = await testGpu();
const N = 2, H = 7, W = 9;
const widths = [8, 4, 4], couts = [4, 4, 12];
const P = N * H * W;

/** The block: conv k over the pieces so far (k < 2 adds its output, lrelu, as the next piece); the last with a residual. */
function block(x: Tensor, ws: Tensor[], bs: Tensor[], res: Tensor, viaConcat: boolean): Tensor {
  if (viaConcat) {
    const xs = [x];
    for (let k = 0; k < 2; k++) xs.push(ops.conv2d(ops.concatChannels(xs), ws[k], bs[k], 1, { act: 'lrelu', alpha: 0.2 }));
    return ops.conv2d(ops.concatChannels(xs), ws[2], bs[2], 1, { residual: res });
  }
  const cat = new ops.ConcatConv(x, { widths, couts });
  for (let k = 0; k < 2; k++) cat.add(cat.conv(ws[k], bs[k], { act: 'lrelu', alpha: 0.2 }));
  const y = cat.conv(ws[2], bs[2], { residual: res });
  cat.dispose();
  return y;
}

function inputs(requiresGrad: boolean) {
  let cin = 0;
  const ws = couts.map((co, k) => { cin += widths[k]; return fromArray(uniform(9 * cin * co, 10 + k).map((v) => v * 0.3), [3, 3, cin, co], requiresGrad); });
  const bs = couts.map((co, k) => fromArray(uniform(co, 20 + k), [co], requiresGrad));
  const x = fromArray(uniform(P * widths[0], 1), [N, H, W, widths[0]], requiresGrad);
  const res = fromArray(uniform(P * couts[2], 2), [N, H, W, couts[2]]);
  return { ws, bs, x, res };
}

afterEach(() => { conv2dTiles.winograd = true; });

describe('ops.ConcatConv', () => {
  for (const winograd of [true, false]) {
    it(`at inference equals the convs over concatChannels (${winograd ? 'each piece transformed once' : 'Winograd off: concatenated'}), and frees what it made`, async () => {
      conv2dTiles.winograd = winograd;
      const { ws, bs, x, res } = inputs(false);
      const want = noGrad(() => block(x, ws, bs, res, true));
      const live = g.pool.liveCount;
      const got = noGrad(() => block(x, ws, bs, res, false));
      // its transforms and concatenations go back; left: the output and the two pieces block() added
      // (the caller's, which the dense block disposes once added)
      expect(g.pool.liveCount).toBe(live + 1 + 2);
      expect(relErr(await got.data(), await want.data())).toBeLessThan(1e-5);
    });
  }

  it('with gradients gives the gradients of the convs over concatChannels', async () => {
    const grads = async (viaConcat: boolean) => {
      const { ws, bs, x, res } = inputs(true);
      return tidy(() => {
        backward(ops.mean(ops.mul(block(x, ws, bs, res, viaConcat), res)));
        return Promise.all([x.grad!.data(), ws[0].grad!.data(), ws[2].grad!.data(), bs[1].grad!.data()]);
      });
    };
    const [a, b] = [await grads(true), await grads(false)];
    a.forEach((v, i) => expect(relErr(b[i], v)).toBeLessThan(1e-6));
  });

  it('refuses a piece or weight that does not fit its layout', () => {
    noGrad(() => {
      const { ws, bs, x } = inputs(false);
      expect(() => new ops.ConcatConv(x, { widths: [4, 4], couts: [4] })).toThrow(/first piece has 8 channels/);
      const cat = new ops.ConcatConv(x, { widths, couts });
      expect(() => cat.add(fromArray(uniform(P * 8, 3), [N, H, W, 8]))).toThrow(/piece 1 is \[2,7,9,8\]/);
      expect(() => cat.conv(ws[1], bs[1])).toThrow(/does not fit 8 channels/);
      cat.dispose();
    });
  });
});
