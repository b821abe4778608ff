/**
 * The operator trial's verdict (soak/epi-trial.ts): what the journals of every acknowledged write
 * say must be on every side, checked against a snapshot of every side taken after convergence,
 * and the evidence of each problem (its keys, the hub's `_dualdb_changes` entries under them, the
 * sites' `_dualdb_rekeys` and `_dualdb_conflicts` records). Pure functions of the snapshot, so
 * `npm run trial -- trace <payload>` reads the same evidence from a finished run's folder.
 */

/** One acknowledged write, as the writer logged it after its commit. */
export interface JournalEntry {
  t: number;
  side: string;
  op: 'insert' | 'update' | 'delete';
  table: string;
  payload: string;
  key?: string | number | null;
  parent?: { col: string; payload: string; key?: string | number | null } | null;
  value?: Record<string, string>;
  /** The hub client failed around its commit: the write may or may not have happened. */
  unsure?: boolean;
}

export interface Row {
  id: string;
  ref: string;
  fk: string | null;
  val: string | null;
}

export interface RecordRow {
  tbl: string;
  pk?: string;
  old_key?: string;
  new_key?: string | null;
  [k: string]: unknown;
}

export interface HubChange {
  seq: string;
  tbl: string;
  pk: string | null;
  op: string;
  origin: string | null;
  at: number;
}

export interface Stall {
  site: string;
  line: string;
  firstAt: string;
  lastAt: string;
  seconds: number;
  times: number;
}

export interface Snapshot {
  meta: Record<string, unknown>;
  journal: JournalEntry[];
  /** 'hub' and every site: table → rows. */
  sides: Record<string, Record<string, Row[]>>;
  conflicts: Record<string, RecordRow[]>;
  rekeys: Record<string, RecordRow[]>;
  hubChanges: HubChange[];
  stalls: Stall[];
  differences: string[];
}

/** The EPI tables the trial writes: the parent each references, and what its ON DELETE does. */
export const TABLES: Record<string, { fk?: { col: string; parent: string; onDelete: 'cascade' | 'set null' }; val?: string }> = {
  workers: { val: 'department' },
  attendance: { fk: { col: 'worker_id', parent: 'workers', onDelete: 'cascade' } },
  detections: {},
  alerts: { fk: { col: 'detection_id', parent: 'detections', onDelete: 'cascade' }, val: 'message' },
  notifications: { fk: { col: 'alert_id', parent: 'alerts', onDelete: 'set null' } },
};

export type Category =
  | 'lost'
  | 'doubled'
  | 'mis-pointed'
  | 'delete undone'
  | 'update lost'
  | 'phantom'
  | 'stall'
  | 'sides differ';

export interface Problem {
  category: Category;
  table: string;
  payload: string;
  sides: string[];
  detail: string;
  /** What the evidence looks like, where it matches a known shape (a lead, not a verdict). */
  hint?: string;
  evidence?: Evidence;
}

export interface Verdict {
  counts: Record<string, number>;
  problems: Problem[];
}

const digits = (k: unknown) => String(k ?? '').replace(/[^0-9]/g, '');

class Index {
  byRef = new Map<string, Map<string, Row[]>>();
  byId = new Map<string, Map<string, Row>>();
  constructor(rows: Record<string, Row[]>) {
    for (const [t, list] of Object.entries(rows)) {
      const refs = new Map<string, Row[]>();
      const ids = new Map<string, Row>();
      for (const r of list) {
        refs.set(r.ref, [...(refs.get(r.ref) ?? []), r]);
        ids.set(r.id, r);
      }
      this.byRef.set(t, refs);
      this.byId.set(t, ids);
    }
  }
  rows(table: string, payload: string): Row[] {
    return this.byRef.get(table)?.get(payload) ?? [];
  }
}

/** What the journals say about each payload. */
export class Ledger {
  inserts = new Map<string, JournalEntry>();
  unsure = new Map<string, JournalEntry>();
  deletes = new Map<string, JournalEntry>();
  updates = new Map<string, JournalEntry[]>();
  constructor(readonly journal: JournalEntry[]) {
    for (const e of journal) {
      if (e.op === 'insert') (e.unsure ? this.unsure : this.inserts).set(e.payload, e);
      else if (e.op === 'delete' && !e.unsure && !this.deletes.has(e.payload)) this.deletes.set(e.payload, e);
      else if (e.op === 'update' && !e.unsure) this.updates.set(e.payload, [...(this.updates.get(e.payload) ?? []), e]);
    }
  }
  /** Deleted by an acknowledged delete of it, or of a parent whose ON DELETE cascades to it. */
  gone(payload: string, depth = 0): boolean {
    if (this.deletes.has(payload)) return true;
    const e = this.inserts.get(payload) ?? this.unsure.get(payload);
    const fk = e && TABLES[e.table]?.fk;
    if (!e?.parent || !fk || fk.onDelete !== 'cascade' || depth > 5) return false;
    return this.gone(e.parent.payload, depth + 1);
  }
  /** A SET NULL child whose parent is gone. */
  nulled(payload: string): boolean {
    const e = this.inserts.get(payload) ?? this.unsure.get(payload);
    const fk = e && TABLES[e.table]?.fk;
    return Boolean(e?.parent && fk?.onDelete === 'set null' && this.gone(e.parent.payload));
  }
}

function mentions(rec: RecordRow, payload: string): boolean {
  return Object.values(rec).some((v) => typeof v === 'string' && v.includes(payload));
}

/** Every key a payload had: the ones its writer saw, its ids on every side now, and the rekey records naming it. */
export function keysOf(snap: Snapshot, table: string, payload: string): string[] {
  const keys = new Set<string>();
  for (const e of snap.journal) {
    if (e.payload === payload && e.key != null) keys.add(String(e.key));
    if (e.parent?.payload === payload && e.parent.key != null) keys.add(String(e.parent.key));
  }
  for (const side of Object.values(snap.sides)) for (const r of side[table] ?? []) if (r.ref === payload) keys.add(r.id);
  for (const recs of Object.values(snap.rekeys))
    for (const r of recs)
      if (r.tbl === table && mentions(r, payload)) {
        if (r.old_key) keys.add(digits(r.old_key));
        // The new key is the row's only if it is the row that moved.
        const moved = r.moved === 'hub' ? r.hub_image : r.moved === 'node' ? r.node_image : undefined;
        if (r.new_key && String(moved ?? '').includes(payload)) keys.add(digits(r.new_key));
      }
  keys.delete('');
  return [...keys].sort((a, b) => Number(a) - Number(b));
}

export interface Evidence {
  keys: string[];
  journal: JournalEntry[];
  rows: Record<string, Row[]>;
  hubChanges: HubChange[];
  rekeys: Record<string, RecordRow[]>;
  conflicts: Record<string, RecordRow[]>;
}

/** Everything the run's snapshot holds about one payload. */
export function evidenceOf(snap: Snapshot, table: string, payload: string, maxChanges = 60): Evidence {
  const keys = keysOf(snap, table, payload);
  const keySet = new Set(keys);
  const rows: Record<string, Row[]> = {};
  for (const [side, tables] of Object.entries(snap.sides)) rows[side] = (tables[table] ?? []).filter((r) => r.ref === payload);
  const pick = (all: Record<string, RecordRow[]>, keyOf: (r: RecordRow) => string[]) => {
    const out: Record<string, RecordRow[]> = {};
    for (const [site, recs] of Object.entries(all)) {
      const hits = recs.filter((r) => r.tbl === table && (mentions(r, payload) || keyOf(r).some((k) => keySet.has(k))));
      if (hits.length) out[site] = hits;
    }
    return out;
  };
  const changes = snap.hubChanges
    .filter((c) => c.tbl === table && keySet.has(digits(c.pk)))
    .sort((a, b) => Number(BigInt(a.seq) - BigInt(b.seq)));
  return {
    keys,
    journal: snap.journal.filter((e) => e.payload === payload || e.parent?.payload === payload),
    rows,
    hubChanges: changes.length > maxChanges ? [...changes.slice(0, 10), ...changes.slice(-(maxChanges - 10))] : changes,
    rekeys: pick(snap.rekeys, (r) => [digits(r.old_key), digits(r.new_key)]),
    conflicts: pick(snap.conflicts, (r) => [digits(r.pk)]),
  };
}

/** Whether a site recorded a conflict about this row (its image names the payload, or its key is one of the row's). */
function conflictRecorded(snap: Snapshot, table: string, payload: string): boolean {
  const keys = new Set(keysOf(snap, table, payload));
  return Object.values(snap.conflicts).some((recs) =>
    recs.some((r) => r.tbl === table && (mentions(r, payload) || keys.has(digits(r.pk)))),
  );
}

/** Checks every acknowledged write on every side; the problems carry their evidence. */
export function check(snap: Snapshot): Verdict {
  const ledger = new Ledger(snap.journal);
  const sides = Object.keys(snap.sides);
  const index = new Map(sides.map((s) => [s, new Index(snap.sides[s] ?? {})]));
  const found = new Map<string, Problem>();
  const flag = (category: Category, table: string, payload: string, side: string, detail: string) => {
    const id = `${category}\u0000${payload}`;
    const p = found.get(id);
    if (p) {
      p.sides.push(side);
      if (!p.detail.includes(detail)) p.detail += `; ${side}: ${detail}`;
    } else found.set(id, { category, table, payload, sides: [side], detail: `${side}: ${detail}` });
  };
  const counts: Record<string, number> = {
    'acknowledged inserts': ledger.inserts.size,
    'acknowledged updates': [...ledger.updates.values()].reduce((n, l) => n + l.length, 0),
    'acknowledged deletes': ledger.deletes.size,
    'unsure hub writes': snap.journal.filter((e) => e.unsure).length,
    'collisions held at the end': Object.values(snap.rekeys)
      .flat()
      .filter((r) => r.status === 'held').length,
    'collisions pending at the end': Object.values(snap.rekeys)
      .flat()
      .filter((r) => r.status === 'pending').length,
    'deletes undone by a recorded conflict': 0,
    'updates decided by a recorded conflict': 0,
    'conflicts recorded': Object.values(snap.conflicts).flat().length,
    'conflicts on rows one writer touched': oneWriterConflicts(snap),
  };

  const bump = (k: string) => {
    counts[k] = (counts[k] ?? 0) + 1;
  };

  for (const [payload, e] of [...ledger.inserts, ...ledger.unsure]) {
    const fk = TABLES[e.table]?.fk;
    const gone = ledger.gone(payload);
    for (const side of sides) {
      const ix = index.get(side) as Index;
      const rows = ix.rows(e.table, payload);
      if (gone) {
        if (rows.length === 0) continue;
        if (ledger.deletes.has(payload))
          flag('delete undone', e.table, payload, side, `${rows.length} row(s), id ${rows[0]?.id}`);
        else if (e.parent && ix.rows(fk?.parent ?? '', e.parent.payload).length === 0)
          flag(
            'mis-pointed',
            e.table,
            payload,
            side,
            `kept (id ${rows[0]?.id}) though its parent ${e.parent.payload} was deleted`,
          );
        continue;
      }
      if (rows.length === 0 && !e.unsure) flag('lost', e.table, payload, side, 'missing');
      if (rows.length > 1)
        flag('doubled', e.table, payload, side, `${rows.length} rows, ids ${rows.map((r) => r.id).join(', ')}`);
      const row = rows[0];
      if (rows.length !== 1 || !row || !e.parent || !fk) continue;
      if (row.fk === null) {
        if (!ledger.nulled(payload))
          flag('mis-pointed', e.table, payload, side, `${fk.col} is NULL, written for ${e.parent.payload}`);
        continue;
      }
      const parent = ix.byId.get(fk.parent)?.get(row.fk);
      if (!parent) flag('mis-pointed', e.table, payload, side, `${fk.col} = ${row.fk}: no such ${fk.parent} row`);
      else if (parent.ref !== e.parent.payload)
        flag('mis-pointed', e.table, payload, side, `${fk.col} = ${row.fk} is ${parent.ref}, written for ${e.parent.payload}`);
    }
  }

  // Updates: the last acknowledged value is on the hub (every side equals it once converged),
  // unless a conflict was recorded about the row.
  const hub = index.get('hub');
  for (const [payload, list] of ledger.updates) {
    const e = ledger.inserts.get(payload) ?? ledger.unsure.get(payload) ?? list[0];
    if (!e || ledger.gone(payload) || !hub) continue;
    const rows = hub.rows(e.table, payload);
    const last = [...list].sort((a, b) => a.t - b.t).at(-1);
    const col = TABLES[e.table]?.val;
    const want = col === undefined ? undefined : last?.value?.[col];
    if (rows.length !== 1 || !last || want === undefined) continue;
    if (rows[0]?.val === want) continue;
    if (conflictRecorded(snap, e.table, payload)) bump('updates decided by a recorded conflict');
    else
      flag(
        'update lost',
        e.table,
        payload,
        'hub',
        `${col} = ${rows[0]?.val}; last acknowledged ${want} by ${last.side} at ${new Date(last.t * 1000).toISOString()}`,
      );
  }

  // Deletes undone with a conflict recorded about the row are the policy's decision, not a loss.
  for (const [id, p] of found)
    if (p.category === 'delete undone' && conflictRecorded(snap, p.table, p.payload)) {
      bump('deletes undone by a recorded conflict');
      found.delete(id);
    }

  // Rows nobody wrote.
  const known = new Set([...ledger.inserts.keys(), ...ledger.unsure.keys()]);
  for (const side of sides)
    for (const [table, rows] of Object.entries(snap.sides[side] ?? {}))
      for (const r of rows) if (!known.has(r.ref)) flag('phantom', table, r.ref, side, `id ${r.id}, in no journal`);

  const problems = [...found.values()];
  for (const p of problems) {
    p.evidence = evidenceOf(snap, p.table, p.payload);
    p.hint = hintOf(snap, ledger, p);
  }
  for (const s of snap.stalls)
    problems.push({
      category: 'stall',
      table: '',
      payload: '',
      sides: [s.site],
      detail: `${s.site} printed "${s.line}" ${s.times}× over ${s.seconds.toFixed(0)} s (${s.firstAt} – ${s.lastAt})`,
    });
  for (const d of snap.differences) problems.push({ category: 'sides differ', table: '', payload: '', sides: [], detail: d });
  for (const c of ['lost', 'doubled', 'mis-pointed', 'delete undone', 'update lost', 'phantom', 'stall', 'sides differ'])
    counts[c] = problems.filter((p) => p.category === c).length;
  // Expected with --app-transactions off (the application's hazard, README "Ids handed out on both sides").
  counts['of which the N3 shape (app read-then-write)'] = problems.filter(
    (p) => p.hint?.startsWith('N3 shape') || p.hint?.includes(': N3 shape'),
  ).length;
  return { counts, problems };
}

/** The payload (`ref`) a conflict or rekey image names, if any. */
function refOf(image: unknown): string | undefined {
  return typeof image === 'string' ? /"ref":"([^"]+)"/.exec(image)?.[1] : undefined;
}

/**
 * Conflicts recorded about a row that only one side ever wrote: every journaled insert, update and
 * delete of it, and every delete of its ancestors, by one site (or the control room). Such a
 * conflict is false: nothing else changed the row, yet a policy other than the writer's side
 * winning would drop an acknowledged write. Two different rows under one key are not counted.
 */
function oneWriterConflicts(snap: Snapshot): number {
  const writers = new Map<string, Set<string>>();
  const parentOf = new Map<string, string>();
  for (const e of snap.journal) {
    const w = writers.get(e.payload) ?? new Set<string>();
    w.add(e.side);
    writers.set(e.payload, w);
    if (e.op === 'insert' && e.parent) parentOf.set(e.payload, e.parent.payload);
  }
  const deleters = new Map<string, Set<string>>();
  for (const e of snap.journal)
    if (e.op === 'delete') deleters.set(e.payload, (deleters.get(e.payload) ?? new Set()).add(e.side));
  let n = 0;
  for (const r of Object.values(snap.conflicts).flat()) {
    const node = refOf(r.node_image);
    const hub = refOf(r.hub_image);
    if ((node && hub && node !== hub) || !(node ?? hub)) continue;
    const payload = (node ?? hub) as string;
    const sides = new Set(writers.get(payload));
    for (let p = parentOf.get(payload), depth = 0; p && depth < 5; p = parentOf.get(p), depth++)
      for (const s of deleters.get(p) ?? []) sides.add(s);
    if (sides.size === 1) n++;
  }
  return n;
}

/** A site's delete that won a conflict against this row (its node image: no row). */
function deletedByConflict(snap: Snapshot, table: string, payload: string): string | undefined {
  for (const [site, recs] of Object.entries(snap.conflicts))
    for (const r of recs)
      if (r.tbl === table && r.node_image == null && r.winner === 'node' && String(r.hub_image ?? '').includes(payload))
        return `${site}'s delete under ${r.pk} won a conflict against it (${r.detected_in}, conflict #${r.id})`;
  return undefined;
}

/** How long a request may take between its read and its commit, for the N3 lead. */
const REQUEST_S = 30;

/**
 * N3, the application's read-then-write by id (`--app-transactions off`): a write journaled by a
 * site's application under a key its own sync had moved that row away from shortly before the
 * write committed. The write landed on the row placed under the old key. A lead, not a verdict.
 * Its sync moves a row either by its own re-key, or by applying another site's move of the hub's
 * row (rekey-hub: every site that holds the row follows it, hub-moves.ts) — the same shape, with
 * the write landing on whatever row the site holds under the old key, or on none (trial seed 1105:
 * SQLAlchemy's "DELETE … expected to delete 1 row(s); 0 were matched", the delete journaled all the
 * same).
 */
function staleIdWrite(
  snap: Snapshot,
  table: string,
  w: { side: string; op: string; payload: string; key?: string | number | null; t: number },
  learned = false,
): string | undefined {
  if (w.key == null || w.side === 'hub') return undefined;
  for (const r of snap.rekeys[w.side] ?? []) {
    if (r.tbl !== table || r.status !== 'done' || digits(r.old_key) !== String(w.key)) continue;
    const moved = r.moved === 'hub' ? r.hub_image : r.moved === 'node' ? r.node_image : undefined;
    if (!String(moved ?? '').includes(w.payload)) continue;
    const after = w.t - Date.parse(String(r.resolved_at ?? r.at)) / 1000;
    if (after > 0 && after < REQUEST_S)
      return `N3 shape (the application's read-then-write by id): ${w.side}'s ${w.op} of ${w.payload} by id ${w.key} committed ${(after * 1000).toFixed(0)} ms after ${w.side}'s ${r.detected_in} moved that row ${digits(r.old_key)} → ${digits(r.new_key)} (re-key #${r.id}), onto the row placed under ${w.key}`;
  }
  // Only for a write that missed its row (a delete undone, an update lost): whether the site had
  // applied the move when the write came is not in the evidence, and a site still holding the row
  // under the old key (its copy unsettled) wrote the right row (trial seed 1103 was a sync fault).
  for (const [site, recs] of Object.entries(learned ? snap.rekeys : {})) {
    if (site === w.side) continue;
    for (const r of recs) {
      if (r.tbl !== table || r.status !== 'done' || r.moved !== 'hub' || digits(r.old_key) !== String(w.key)) continue;
      if (!String(r.hub_image ?? '').includes(w.payload)) continue;
      const after = w.t - Date.parse(String(r.resolved_at ?? r.at)) / 1000;
      if (after > 0 && after < REQUEST_S)
        return `N3 shape (the application's read-then-write by id): ${w.side}'s ${w.op} of ${w.payload} by id ${w.key} committed ${(after * 1000).toFixed(0)} ms after ${site}'s ${r.detected_in} moved that row on the hub ${digits(r.old_key)} → ${digits(r.new_key)} (re-key #${r.id}), a move ${w.side}'s sync applies here too: the write went to the key the row had left, if applied by then`;
    }
  }
  return undefined;
}

/** A payload (or an ancestor whose ON DELETE cascades) gone by another row's stale delete by id (N3). */
function deletedByStaleWrite(snap: Snapshot, ledger: Ledger, table: string, payload: string): string | undefined {
  for (let pl: string | undefined = payload, t = table, depth = 0; pl && depth < 4; depth++) {
    const keys = new Set(keysOf(snap, t, pl));
    for (const e of snap.journal)
      if (e.op === 'delete' && e.table === t && e.payload !== pl && keys.has(String(e.key))) {
        const lead = staleIdWrite(snap, t, e);
        if (lead) return `${depth ? `its ancestor ${pl}: ` : ''}${lead}`;
      }
    const e: JournalEntry | undefined = ledger.inserts.get(pl) ?? ledger.unsure.get(pl);
    const fk = e && TABLES[e.table]?.fk;
    if (fk?.onDelete !== 'cascade') return undefined;
    pl = e?.parent?.payload;
    t = fk.parent;
  }
  return undefined;
}

/** Leads for a problem, from the shapes trials 5 and 6 found (docs/SYNC-CONTRACT.md invariant 13). */
function hintOf(snap: Snapshot, ledger: Ledger, p: Problem): string | undefined {
  const stale = staleLead(snap, ledger, p);
  if (stale) return stale;
  if (p.category === 'lost' || p.category === 'mis-pointed') {
    for (let payload: string | undefined = p.payload, table = p.table, depth = 0; payload && depth < 4; depth++) {
      const by = deletedByConflict(snap, table, payload);
      if (by) return `${depth ? `its ancestor ${payload}: ` : ''}${by}: a delete of another row taken for a conflict (N2 shape)`;
      const e: JournalEntry | undefined = ledger.inserts.get(payload) ?? ledger.unsure.get(payload);
      const fk = e && TABLES[e.table]?.fk;
      // A parent's delete takes the row only through ON DELETE CASCADE: past a SET NULL link it
      // leaves the row (trial seed 1102 blamed a detection's delete for a notification's loss).
      if (fk?.onDelete !== 'cascade') return undefined;
      payload = e?.parent?.payload;
      table = fk.parent;
    }
    return undefined;
  }
  if (p.category === 'delete undone') {
    const d = ledger.deletes.get(p.payload);
    if (!d || d.side === 'hub') return undefined;
    const keys = new Set(keysOf(snap, p.table, p.payload));
    const reached = snap.hubChanges.some(
      (c) => c.tbl === p.table && c.op === 'D' && c.origin === d.side && keys.has(digits(c.pk)),
    );
    return reached
      ? `${d.side}'s delete reached the hub; the row came back afterwards`
      : `${d.side}'s delete never reached the hub (dropped by its push: N1/R1 shape)`;
  }
  return undefined;
}

/** The N3 lead for a problem, if its evidence has that shape. */
function staleLead(snap: Snapshot, ledger: Ledger, p: Problem): string | undefined {
  if (p.category === 'delete undone') {
    const d = ledger.deletes.get(p.payload);
    return d && staleIdWrite(snap, p.table, d, true);
  }
  if (p.category === 'update lost') {
    const last = [...(ledger.updates.get(p.payload) ?? [])].sort((a, b) => a.t - b.t).at(-1);
    return last && staleIdWrite(snap, p.table, last, true);
  }
  if (p.category === 'lost') return deletedByStaleWrite(snap, ledger, p.table, p.payload);
  if (p.category === 'mis-pointed') {
    const e = ledger.inserts.get(p.payload);
    const fk = TABLES[p.table]?.fk;
    if (!e?.parent || !fk) return undefined;
    const parent = { side: e.side, op: `child insert (${p.payload})`, payload: e.parent.payload, key: e.parent.key, t: e.t };
    return staleIdWrite(snap, fk.parent, parent) ?? deletedByStaleWrite(snap, ledger, fk.parent, e.parent.payload);
  }
  return undefined;
}

/** A readable account of one payload's evidence. */
export function describeEvidence(payload: string, table: string, ev: Evidence): string[] {
  const iso = (t: number) => new Date(t * 1000).toISOString().slice(11, 23);
  const out = [`${table} ${payload}: keys ${ev.keys.join(', ') || '(none)'}`];
  for (const e of ev.journal)
    out.push(
      `  journal ${iso(e.t)} ${e.side} ${e.op}${e.unsure ? '?' : ''} ${e.table} ${e.payload} key ${e.key ?? '-'}` +
        `${e.parent ? ` parent ${e.parent.payload} (${e.parent.key ?? '-'})` : ''}${e.value ? ` ${JSON.stringify(e.value)}` : ''}`,
    );
  for (const [side, rows] of Object.entries(ev.rows))
    out.push(
      `  ${side.padEnd(6)} ${rows.length ? rows.map((r) => `id ${r.id} fk ${r.fk ?? '-'} val ${r.val ?? '-'}`).join(' | ') : '(no row)'}`,
    );
  for (const c of ev.hubChanges)
    out.push(`  hub change #${c.seq} ${c.op} ${c.tbl} ${c.pk} origin ${c.origin ?? '(hub writer)'} at ${iso(c.at / 1000)}`);
  for (const [site, recs] of Object.entries(ev.rekeys))
    for (const r of recs)
      out.push(
        `  ${site} rekey #${r.id} ${r.status} ${r.tbl} ${r.old_key} → ${r.new_key ?? '-'} moved ${r.moved ?? '-'} in ${r.detected_in} at ${r.at}` +
          ` node ${String(r.node_image ?? '-').slice(0, 120)} hub ${String(r.hub_image ?? '-').slice(0, 120)}`,
      );
  for (const [site, recs] of Object.entries(ev.conflicts))
    for (const r of recs)
      out.push(
        `  ${site} conflict #${r.id} ${r.tbl} ${r.pk} ${r.policy} winner ${r.winner} in ${r.detected_in} at ${r.detected_at}` +
          ` node ${String(r.node_image ?? '-').slice(0, 120)} hub ${String(r.hub_image ?? '-').slice(0, 120)}`,
      );
  return out;
}
