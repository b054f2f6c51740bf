import { defineConfig } from 'vitest/config';

/**
 * The vitest settings every package shares: the default reporter for people, plus a JSON
 * report in `test-results/` that `scripts/test-summary.mjs` adds up across packages.
 */
export const sharedConfig = defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    testTimeout: 20_000,
    passWithNoTests: true,
  },
});
