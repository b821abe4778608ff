/** Sizes and counts as people read them, the same in the CLI and the monitor (pure, locale-independent). */

/** 512 B, 1.5 KB, 3.2 GB (powers of 1024); '-' when unknown. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** 1,234,567; '-' when unknown. */
export function formatCount(n: number | null | undefined): string {
  return n === null || n === undefined ? '-' : n.toLocaleString('en-US');
}
