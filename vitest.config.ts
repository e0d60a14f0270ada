import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // shaders/*.wgsl bundled into src/kernels/shaders.generated.ts before any test imports the engine
    globalSetup: ['scripts/gen-shaders.mjs'],
    // One GPU-using file at a time: lavapipe already uses every core, and parallel files would
    // only fight over them (and multiply memory).
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
