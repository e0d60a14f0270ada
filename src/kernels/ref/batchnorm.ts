// Float64 references of batch norm 2d over x[M, C] (NHWC with M = N*H*W), per-channel statistics.

export function batchNormTrainRef(x: Float64Array, y: Float64Array, gamma: Float64Array, beta: Float64Array,
  saveMean: Float64Array, saveInvStd: Float64Array, runMean: Float64Array, runVar: Float64Array, M: number, C: number,
  opts: { momentum?: number; eps?: number } = {}): void {
  const { momentum = 0.1, eps = 1e-5 } = opts;
  for (let c = 0; c < C; c++) {
    let mean = 0;
    for (let m = 0; m < M; m++) mean += x[m * C + c] / M;
    let v = 0;
    for (let m = 0; m < M; m++) v += (x[m * C + c] - mean) ** 2 / M;
    const invStd = 1 / Math.sqrt(v + eps);
    for (let m = 0; m < M; m++) y[m * C + c] = (x[m * C + c] - mean) * invStd * gamma[c] + beta[c];
    saveMean[c] = mean;
    saveInvStd[c] = invStd;
    runMean[c] = (1 - momentum) * runMean[c] + momentum * mean;
    runVar[c] = (1 - momentum) * runVar[c] + momentum * v * M / (M - 1);
  }
}

export function batchNormInferRef(x: Float64Array, y: Float64Array, gamma: Float64Array, beta: Float64Array,
  runMean: Float64Array, runVar: Float64Array, M: number, C: number, eps = 1e-5): void {
  for (let m = 0; m < M; m++) {
    for (let c = 0; c < C; c++) {
      y[m * C + c] = (x[m * C + c] - runMean[c]) / Math.sqrt(runVar[c] + eps) * gamma[c] + beta[c];
    }
  }
}

/** dxhat = dy*gamma;  dx = invStd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)). */
export function batchNormBackwardRef(x: Float64Array, dy: Float64Array, gamma: Float64Array, saveMean: Float64Array,
  saveInvStd: Float64Array, dx: Float64Array, dgamma: Float64Array, dbeta: Float64Array, M: number, C: number): void {
  for (let c = 0; c < C; c++) {
    const xhat = (m: number) => (x[m * C + c] - saveMean[c]) * saveInvStd[c];
    let sdy = 0, sdyx = 0;
    for (let m = 0; m < M; m++) {
      sdy += dy[m * C + c];
      sdyx += dy[m * C + c] * xhat(m);
    }
    dbeta[c] = sdy;
    dgamma[c] = sdyx;
    for (let m = 0; m < M; m++) {
      dx[m * C + c] = gamma[c] * saveInvStd[c] * (dy[m * C + c] - sdy / M - xhat(m) * sdyx / M);
    }
  }
}
