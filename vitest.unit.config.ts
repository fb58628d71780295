import { defineConfig } from 'vitest/config';

// The inner loop (npm run test:unit): test/unit only, straight from the TypeScript sources —
// no build, no servers, seconds. Tests that run the built CLI belong in test/integration.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    globalSetup: ['test/support/temp-roots.ts'],
    setupFiles: ['test/support/temp-root.ts'],
    testTimeout: 20_000,
  },
});
