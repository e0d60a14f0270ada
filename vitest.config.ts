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
    // Tests run with the built-in kernel tiles, not a table measured on this machine (node dist/tune.js);
    // test/kernels/variants.test.ts covers the table and every candidate.
    env: { SRGAN_VARIANTS: 'off' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
