export * from './tensor.js';
export * as ops from './ops.js';
export * from './module.js';
export * from './layers.js';
export * from './adam.js';
export * from './state.js';
export * from './random.js';
