import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // Each file starts its own private MariaDB; forks keep native modules and servers apart.
    pool: 'forks',
    // Builds one initialised MariaDB data folder that every file's private hub copies.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
