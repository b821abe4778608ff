import os from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Files that start several servers or time a server's death and return: run one at a time after the
 * rest, so a neighbour's load cannot stretch their waits (galera.test.ts once timed out beside another file).
 */
const ALONE = [
  'test/galera.test.ts',
  'test/failover-chaos.test.ts',
  'test/sync-node-identity.test.ts',
  'test/sync-wal-watch.test.ts',
  'test/scale.test.ts',
];

export default defineConfig({
  test: {
    // Each file starts its own private MariaDB; forks keep native modules and servers apart.
    pool: 'forks',
    // Builds one initialised MariaDB data folder that every file's private hub copies.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['default'] : ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.{ts,tsx}'],
          exclude: ALONE,
          // At least two forks (vitest's default is one per core less one: a single fork on 2 cores).
          // A fork spends much of its time waiting for its MariaDB, CLI children or SQLite; files share
          // no fixed path or port (each hub: its own temp folder and a free port).
          maxWorkers: Math.max(2, (os.availableParallelism?.() ?? os.cpus().length) - 1),
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'alone', include: ALONE, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
