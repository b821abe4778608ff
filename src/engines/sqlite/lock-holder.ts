/**
 * Who holds a SQLite file's lock, where the system can tell: on Linux, /proc/locks lists
 * every POSIX lock with the pid that holds it and the inode it is on. SQLite locks the
 * database file itself (rollback journal) or its -shm file (WAL), so both are looked at.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';

export interface LockHolder {
  pid: number;
  /** Its program name (and script), never its arguments. */
  command: string;
}

function inodeOf(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

/**
 * The program's name, and its script where the second word is a file (`python3 app.py`), never
 * the rest of its command line: arguments can carry a password (`mysql -pSECRET`), and this text
 * reaches error lines and logs.
 */
function commandOf(pid: number): string {
  let name = '?';
  try {
    name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim() || '?';
    const [, second] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const script = second && !second.startsWith('-') ? (isAbsolute(second) ? second : `/proc/${pid}/cwd/${second}`) : '';
    if (script && isFile(script)) return `${name} ${basename(second as string)}`;
  } catch {
    // gone meanwhile, or not ours to read: the name alone
  }
  return name;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The other processes that hold a lock on `file` (or its -shm / -wal), empty where nothing tells. */
export function lockHolders(file: string): LockHolder[] {
  const inodes = new Set([file, `${file}-shm`, `${file}-wal`].map(inodeOf).filter((i): i is number => i !== undefined));
  let table: string;
  try {
    table = readFileSync('/proc/locks', 'utf8');
  } catch {
    return [];
  }
  const pids = new Set<number>();
  for (const line of table.split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 16849 fe:00:2146632 0 EOF" (a "->" marks a waiter, not a holder)
    const m = /^\d+:\s+\S+\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (!m || line.includes('->')) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && inodes.has(Number(m[2]))) pids.add(pid);
  }
  return [...pids].map((pid) => ({ pid, command: commandOf(pid) }));
}
