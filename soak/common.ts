/**
 * What the long runs share (soak/chaos.ts, soak/epi-trial.ts): a seeded generator, the chaos
 * loop that kills and freezes the hub and the sync processes.
 */
import type { LocalMysqlServer } from '../src/engines/mysql/local-server.js';

// A small seeded generator (mulberry32): the same seed gives the same schedule of actions.
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A site's sync process as the chaos loop sees it: killed with a signal, then started again. */
export interface ChaosSite {
  name: string;
  /** Sends the signal and resolves once the process has exited (at once when none runs). */
  stopSync(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  startSync(): void;
}

export interface ChaosOptions {
  server: LocalMysqlServer;
  sites: ChaosSite[];
  seconds: number;
  random: () => number;
  say: (msg: string) => void;
  count: (action: string) => void;
  /** Whether to also stop the hub cleanly now and then (default true). */
  cleanStops?: boolean;
}

/**
 * Every 2–6 s one of: SIGKILL the hub and restart it, freeze it (SIGSTOP, as a stalled network
 * would) for 1–5 s, stop it cleanly and restart it, SIGKILL a site's sync process and start it
 * again, or SIGTERM it and start it again. The hub is up when it returns.
 */
export async function runChaos(o: ChaosOptions): Promise<void> {
  const { server, random, say, count } = o;
  const end = Date.now() + o.seconds * 1000;
  while (Date.now() < end) {
    await sleep(2000 + random() * 4000);
    const roll = random();
    const site = o.sites[Math.floor(random() * o.sites.length)] as ChaosSite;
    if (roll < 0.25) {
      say('chaos: SIGKILL the hub');
      count('hub SIGKILL');
      await server.kill();
      await sleep(500 + random() * 3000);
      await server.restart();
      say('chaos: hub back');
    } else if (roll < 0.4) {
      const pid = server.pid;
      const ms = Math.round(1000 + random() * 4000);
      say(`chaos: freeze the hub for ${ms} ms (SIGSTOP)`);
      count('hub frozen');
      if (pid) process.kill(pid, 'SIGSTOP');
      await sleep(ms);
      if (pid) process.kill(pid, 'SIGCONT');
    } else if (roll < 0.5 && o.cleanStops !== false) {
      say('chaos: stop the hub cleanly');
      count('hub clean stop');
      await server.stop();
      await sleep(500 + random() * 2000);
      await server.restart();
    } else if (roll < 0.8) {
      say(`chaos: SIGKILL the sync process of ${site.name}`);
      count('sync SIGKILL');
      await site.stopSync('SIGKILL');
      await sleep(random() * 2000);
      site.startSync();
    } else {
      say(`chaos: SIGTERM the sync process of ${site.name} and start it again`);
      count('sync SIGTERM');
      await site.stopSync('SIGTERM');
      site.startSync();
    }
  }
}
