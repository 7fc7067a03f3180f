import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // XState's development build warns about mistakes the production build swallows.
    conditions: ['development'],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
