import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/build.ts', 'test/support/temp-roots.ts'],
    // A private TMPDIR per test file, removed afterwards (see the file).
    setupFiles: ['test/support/temp-root.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start real servers; the machine has two cores.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
