import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/node18.ts'],
    testTimeout: 20_000,
    hookTimeout: 180_000,
  },
});
