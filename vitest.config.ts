import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // Each file starts its own private MariaDB; forks keep native modules and servers apart.
    pool: 'forks',
    // At least two forks (vitest's default is one per core less one: a single fork on 2 cores).
    // A fork spends much of its time waiting for its MariaDB, CLI children or SQLite; files share
    // no fixed path or port (each hub: its own temp folder and a free port).
    maxWorkers: Math.max(2, (os.availableParallelism?.() ?? os.cpus().length) - 1),
    // Builds one initialised MariaDB data folder that every file's private hub copies.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
