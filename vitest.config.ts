import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Type tests (expectTypeOf) are checked by tsc alongside the run and counted with the others.
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.typecheck.json' },
    // Native steps use both cores; files in parallel would only oversubscribe them.
    fileParallelism: false,
    // One worker runs every file in turn, importing vitest and src once instead of once per file
    // (~0.75 s of CPU per file here). Files that change process.env or other globals put them back.
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The JSON report is what .ci/run counts; the default reporter is for people.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
