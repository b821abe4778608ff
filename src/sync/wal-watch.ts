/**
 * Commits to a SQLite file, seen as they happen: an inotify watch (fs.watch) on
 * the file's folder, reporting writes to the database, its -wal and its
 * -journal. A watch takes no lock and opens nothing, so SQLite's POSIX locks
 * are safe (closing any descriptor of the database file would drop them all).
 *
 * A write event says "look now", not "a commit happened": the watcher reads
 * SQLite's data_version when woken, and keeps a slower poll as a backstop for
 * whatever a watch can miss (folders on network file systems, the inotify
 * watch limit, the wal-index being updated just after the last WAL write).
 */
import { type FSWatcher, watch } from 'node:fs';
import path from 'node:path';

export interface CommitWatch {
  close(): void;
}

/** Watches the folder of `file` for writes to it, its -wal or its -journal; null when the system cannot watch it. */
export function watchCommits(file: string, onWrite: () => void, onError?: (e: unknown) => void): CommitWatch | null {
  const base = path.basename(file);
  const names = new Set([base, `${base}-wal`, `${base}-journal`]);
  let watcher: FSWatcher;
  try {
    watcher = watch(path.dirname(path.resolve(file)), { persistent: false }, (_event, name) => {
      // No name (some platforms): any change in the folder may be ours.
      if (name === null || names.has(String(name))) onWrite();
    });
  } catch (e) {
    onError?.(e);
    return null;
  }
  watcher.on('error', (e) => {
    watcher.close();
    onError?.(e);
  });
  return { close: () => watcher.close() };
}
