/**
 * The setup wizard in ink-testing-library, without a MySQL server: every screen
 * renders, keys edit and move as documented, fields are validated inline,
 * secrets are masked, and the diagnoses that need no server (host not found,
 * refused, TLS required) come with their fix and their ways on. The hub side
 * is in ui-wizard-hub.test.tsx.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../src/engines/mysql/local-server.js';
import { openSqlite } from '../src/engines/sqlite/open.js';
import { editText, formKey, initialForm, menuKey, moveMenu, splitBurst } from '../src/ui/wizard/edit.js';
import { CONNECTION_FIELDS, connectionFields } from '../src/ui/wizard/screens/Connection.js';
import { tempDir } from './helpers/tmp.js';
import { KEY, renderWizard, type WizardDriver } from './helpers/wizard.js';

let dir: string;
let cleanup: () => void;
let w: WizardDriver | undefined;

beforeEach(() => {
  ({ dir, cleanup } = tempDir('dualdb-wizard-'));
});
afterEach(() => {
  w?.unmount();
  w = undefined;
  cleanup();
});

const envFile = () => path.join(dir, '.env');

/** From step 1 to the connection form. */
async function toConnection(d: WizardDriver): Promise<void> {
  await d.waitFor('step 1 of 9');
  await d.press(KEY.enter);
  await d.waitFor('step 2 of 9');
}

/** Replaces the focused text field's value. */
async function replaceField(d: WizardDriver, value: string): Promise<void> {
  await d.press(KEY.ctrlU);
  await d.type(value);
}

describe('input rules (pure)', () => {
  it('edits text: typing, Backspace (either code), Ctrl+U, Ctrl+W; ignores navigation keys', () => {
    expect(editText('abc', 'd', {})).toBe('abcd');
    expect(editText('abc', 'xyz', {})).toBe('abcxyz'); // a burst or a paste
    expect(editText('abc', '', { backspace: true })).toBe('ab');
    expect(editText('abc', '', { delete: true })).toBe('ab');
    expect(editText('héé', '', { delete: true })).toBe('hé');
    expect(editText('abc', 'u', { ctrl: true })).toBe('');
    expect(editText('one two', 'w', { ctrl: true })).toBe('one ');
    expect(editText('abc', '', { tab: true })).toBe('abc');
    expect(editText('abc', '\u0007', {})).toBe('abc');
  });

  it('moves through a form and refuses Enter while a field is invalid', () => {
    let s = initialForm({ host: 'h', port: 'x', user: 'u', password: '', database: 'd', ssl: false });
    s = formKey(CONNECTION_FIELDS, s, '', { tab: true }).state;
    expect(s.focus).toBe(1);
    s = formKey(CONNECTION_FIELDS, s, '', { upArrow: true }).state;
    expect(s.focus).toBe(0);
    s = formKey(CONNECTION_FIELDS, s, '', { tab: true, shift: true }).state;
    expect(s.focus).toBe(6); // the TLS CA file, last
    s = formKey(CONNECTION_FIELDS, s, '', { upArrow: true }).state;
    expect(s.focus).toBe(5);
    const toggled = formKey(CONNECTION_FIELDS, s, ' ', {}).state;
    expect(toggled.values.ssl).toBe(true);
    const r = formKey(CONNECTION_FIELDS, toggled, '', { return: true });
    expect(r.submit).toBe(false);
    expect(r.state.attempted).toBe(true);
    expect(r.state.focus).toBe(1); // the invalid port
    expect(formKey(CONNECTION_FIELDS, toggled, '', { escape: true }).back).toBe(true);
  });

  it('the connection form has a TLS CA field (DB_SSL_CA) with the same checks as the configuration', () => {
    const fields = connectionFields('/srv/site');
    const values = { host: 'h', port: '3306', user: 'u', password: '', database: 'd', ssl: true, sslCa: 'certs/ca.pem' };
    const r = formKey(fields, initialForm(values), '', { return: true });
    expect(r.submit).toBe(false);
    expect(r.state.focus).toBe(6);
    const ca = fields.find((f) => f.id === 'sslCa');
    expect(ca?.kind === 'text' && ca.validate?.('certs/ca.pem')).toBe(
      'DB_SSL_CA names /srv/site/certs/ca.pem, which does not exist',
    );
    expect(formKey(fields, initialForm({ ...values, sslCa: '' }), '', { return: true }).submit).toBe(true);
  });

  it('splits a burst of keys (one read) back into keys: control characters alone, text together', () => {
    expect(splitBurst('\u0015127.0.0.1', {})).toEqual([
      { input: 'u', key: { ctrl: true } },
      { input: '127.0.0.1', key: {} },
    ]);
    expect(splitBurst('abc\r', {})).toEqual([
      { input: 'abc', key: {} },
      { input: '', key: { return: true } },
    ]);
    expect(splitBurst('x\u007f\ty', {})).toEqual([
      { input: 'x', key: {} },
      { input: '', key: { backspace: true } },
      { input: '', key: { tab: true } },
      { input: 'y', key: {} },
    ]);
    expect(splitBurst('plain text', {})).toEqual([{ input: 'plain text', key: {} }]);
    // Enter typed before raw mode arrives as a line feed, which Ink does not call 'return'.
    expect(splitBurst('\n', {})).toEqual([{ input: '', key: { return: true } }]);
    expect(splitBurst('', { upArrow: true })).toEqual([{ input: '', key: { upArrow: true } }]);
  });

  it('menus skip disabled items and take 1–9', () => {
    const items = [
      { value: 'a', label: 'A', disabled: 'not here' as const },
      { value: 'b', label: 'B' },
      { value: 'c', label: 'C' },
    ];
    expect(moveMenu(items, 1, -1)).toBe(2);
    expect(menuKey(items, 1, '', { downArrow: true }).cursor).toBe(2);
    expect(menuKey(items, 1, '1', {}).chosen).toBeUndefined();
    expect(menuKey(items, 1, '3', {}).chosen).toBe('c');
    expect(menuKey(items, 2, '', { return: true }).chosen).toBe('c');
  });
});

describe('step 1: what was found', () => {
  it('a brand-new site: no SQLite file, no .env', async () => {
    w = renderWizard({ envFile: envFile() });
    const f = await w.waitFor('step 1 of 9');
    expect(f).toContain('What was found');
    expect(f).toContain('none yet, a new database will be created');
    expect(f).toContain('none yet; written at the end (mode 0600)');
    expect(f).toContain('Enter next');
    expect(f).toContain('Esc back');
  });

  it('an existing SQLite file (size, tables, rows) and .env (password masked)', async () => {
    const dbPath = path.join(dir, 'data', 'site.db');
    mkdirSync(path.dirname(dbPath));
    const db = openSqlite(dbPath, { create: true });
    db.exec('CREATE TABLE detections (id INTEGER PRIMARY KEY, label TEXT); CREATE TABLE alerts (id INTEGER PRIMARY KEY)');
    const ins = db.prepare('INSERT INTO detections (label) VALUES (?)');
    for (let i = 0; i < 42; i++) ins.run(`helmet ${i}`);
    db.close();
    writeFileSync(envFile(), 'SQLITE_DB_PATH=data/site.db\nDB_HOST=db.example\nDB_USER=epi\nDB_PASSWORD=Very-Secret-77\n');
    w = renderWizard({ envFile: envFile() });
    const f = await w.waitFor('step 1 of 9');
    expect(f).toContain(dbPath);
    expect(f).toMatch(/2 tables · 42 rows/);
    expect(f).toContain('detections 42');
    expect(f).toContain('DB_HOST=db.example');
    expect(f).toContain('DB_PASSWORD=••••••••');
    expect(f).not.toContain('Very-Secret-77');
    expect(f).toContain('mode 644'); // the file we found is too open; it will be rewritten 0600
  });

  it('editing the SQLite path looks at the new file first, then goes on', async () => {
    const other = path.join(dir, 'other.db');
    openSqlite(other, { create: true }).exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    w = renderWizard({ envFile: envFile() });
    await w.waitFor('step 1 of 9');
    await w.press(KEY.backspace, 'instance/epi_detection.db'.length);
    expect(
      w
        .frame()
        .split('\n')
        .find((l) => l.includes('SQLite file')),
    ).not.toContain('epi_detection');
    await w.type('other.db');
    await w.press(KEY.enter);
    const f = await w.waitFor('1 table · 0 rows');
    expect(f).toContain(other);
    expect(f).toContain('step 1 of 9');
    await w.press(KEY.enter);
    await w.waitFor('step 2 of 9');
  });

  it('Esc on the first step leaves (onExit); Ctrl+C leaves from anywhere', async () => {
    w = renderWizard({ envFile: envFile() });
    await w.waitFor('step 1 of 9');
    await w.press(KEY.esc);
    expect(w.exits).toBe(1);
    await w.press(KEY.enter);
    await w.waitFor('step 2 of 9');
    await w.press(KEY.ctrlC);
    expect(w.exits).toBe(2);
    expect(existsSync(envFile())).toBe(false);
  });
});

describe('step 2: connection form', () => {
  it('typing, Backspace, Tab/arrows, inline validation and a masked password', async () => {
    w = renderWizard({ envFile: envFile() });
    await toConnection(w);
    let f = w.frame();
    expect(f).toMatch(/› Host\s+localhost/);
    expect(f).toMatch(/Port\s+3306/);
    expect(f).toMatch(/Database\s+epi_detection_db/);
    expect(f).toMatch(/TLS\s+\[ \] off/);

    // Host: empty is invalid, shown as soon as the field is edited.
    await w.press(KEY.backspace, 'localhost'.length);
    f = await w.waitFor('accepted: a host name or IP address');
    await w.type('db.local');
    await w.waitGone('accepted: a host name or IP address');

    // Port: Tab to it, a letter is refused inline.
    await w.press(KEY.tab);
    await w.type('x');
    f = await w.waitFor('accepted: a whole number from 1 to 65535');
    expect(f).toMatch(/Port\s+3306x/);
    await w.press(KEY.backspace);
    await w.waitGone('accepted: a whole number');

    // User (↓), password (masked: dots only, never the text).
    await w.press(KEY.down);
    await replaceField(w, 'epi_sync');
    await w.press(KEY.down);
    await w.type('s3cret!Pass');
    f = w.frame();
    expect(f).toMatch(/Password\s+•{11}/);
    expect(f).not.toContain('s3cret');

    // Database with a space is refused; Shift+Tab back to the password keeps it masked.
    await w.press(KEY.down);
    await w.type(' x');
    await w.waitFor('accepted: a database name of 1-64 characters');
    await w.press(KEY.shiftTab);
    expect(w.frame()).toMatch(/› Password\s+•{11}/);

    // Enter with an invalid field stays, says so, and focuses it.
    await w.press(KEY.enter);
    f = await w.waitFor('fix the fields marked above');
    expect(f).toContain('step 2 of 9');
    expect(f).toMatch(/› Database/);
    await w.press(KEY.backspace, 2);
    await w.waitGone('accepted: a database name');

    // TLS: Space toggles.
    await w.press(KEY.tab);
    await w.press(' ');
    await w.waitFor(/TLS\s+\[x\] on/);
    await w.press(' ');
    await w.waitFor(/TLS\s+\[ \] off/);

    // Esc goes back to step 1, Enter returns with the values kept.
    await w.press(KEY.esc);
    await w.waitFor('step 1 of 9');
    await w.press(KEY.enter);
    f = await w.waitFor('step 2 of 9');
    expect(f).toMatch(/Host\s+localhost/); // the form starts again from the answers (nothing was submitted)
  });
});

describe('step 3: diagnoses that need no server, and step 4: the ways on', () => {
  it('host not found: the diagnosis, the fix, and two ways on', async () => {
    w = renderWizard({ envFile: envFile() });
    await toConnection(w);
    await replaceField(w, 'nonexistent.invalid');
    await w.press(KEY.enter);
    let f = await w.waitFor('was not found', 20_000);
    expect(f).toContain('step 3 of 9');
    expect(f).toContain('MySQL host "nonexistent.invalid" was not found');
    expect(f).toContain('Fix: Check the host name "nonexistent.invalid" (spelling, DNS, /etc/hosts)');
    expect(f).toContain('1. Two ways on: a private local server, or SQLite only');
    expect(f).toContain('2. Edit the connection settings');
    expect(f).toContain('3. Test again');
    await w.press(KEY.enter);
    f = await w.waitFor('step 4 of 9');
    expect(f).toContain('No MySQL server answered at nonexistent.invalid:3306. Two ways on:');
    expect(f).toContain('Start a private local server');
    expect(f).toContain(`Data in ${path.join(dir, '.dualdb', 'mysql')}`);
    expect(f).toContain('Later: `dualdb server start`');
    expect(f).toContain('Continue SQLite-only');
    expect(f).toContain('DUAL_DATABASE=false: changes are captured and queued until a hub is configured');
    // Edit goes back to the form.
    await w.press('3');
    await w.waitFor('step 2 of 9');
  });

  it('connection refused on a free port: "no server is listening" and how to start one', async () => {
    const port = await freePort();
    w = renderWizard({ envFile: envFile() });
    await toConnection(w);
    await replaceField(w, '127.0.0.1');
    await w.press(KEY.tab);
    await replaceField(w, String(port));
    await w.press(KEY.enter);
    const f = await w.waitFor('was refused');
    expect(f).toContain(`connection to MySQL at 127.0.0.1:${port} was refused: no server is listening there`);
    expect(f).toContain(`Fix: No server is running on 127.0.0.1:${port}. Start it (e.g. \`sudo systemctl start mariadb\`)`);
    expect(f).toContain('Two ways on');
    // "Test again" runs the test again (same diagnosis).
    await w.press('3');
    await w.waitFor('was refused');
  });

  it('TLS required (the server says so during the handshake): turn TLS on', async () => {
    // A server that answers the handshake as MySQL 8 does with require_secure_transport=ON.
    const body = Buffer.concat([
      Buffer.from([0xff, 3159 & 0xff, 3159 >> 8]),
      Buffer.from('#HY000Connections using insecure transport are prohibited while --require_secure_transport=ON.'),
    ]);
    const packet = Buffer.concat([Buffer.from([body.length, 0, 0, 0]), body]);
    const server = net.createServer((s) => s.end(packet));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      w = renderWizard({ envFile: envFile() });
      await toConnection(w);
      await replaceField(w, '127.0.0.1');
      await w.press(KEY.tab);
      await replaceField(w, String(port));
      await w.press(KEY.enter);
      const f = await w.waitFor('requires TLS');
      expect(f).toContain(`MySQL at 127.0.0.1:${port} requires TLS`);
      expect(f).toContain('Fix: The server accepts only TLS connections: turn TLS on.');
      expect(f).toContain('1. Turn TLS on and test again');
      await w.press(KEY.enter);
      // Tested again, now with TLS on (the fake answers every handshake the same way).
      await w.waitFor(`:${port}/epi_detection_db (TLS)`);
    } finally {
      server.close();
    }
  });

  it('SQLite-only: straight on to the schema, then through to the saved .env', async () => {
    w = renderWizard({ envFile: envFile() });
    await toConnection(w);
    await replaceField(w, 'nonexistent.invalid');
    await w.press(KEY.enter);
    await w.waitFor('Two ways on', 20_000);
    await w.press(KEY.enter);
    await w.waitFor('step 4 of 9');
    await w.press('2');
    // Step 6: a brand-new site is offered the EPI schema (SQLite side only without a hub).
    let f = await w.waitFor('step 6 of 9');
    f = await w.waitFor('No tables on either side yet');
    expect(f).toContain('Create the EPI schema (sql/)');
    await w.press(KEY.enter);
    f = await w.waitFor('EPI schema from sql/: 7 tables to create, views');
    expect(f).toContain('+ create in SQLite (7): training_results, workers, iot_sensors, detections,');
    expect(f).toContain('1. Apply this schema');
    await w.press(KEY.enter);
    f = await w.waitFor('schema applied');
    expect(f).toContain('✔ SQLite detections');
    expect(f).toContain('100%');
    await w.press(KEY.enter);
    // Step 7: nothing to copy without a hub.
    f = await w.waitFor('step 7 of 9');
    expect(f).toContain('SQLite only: nothing to copy now.');
    await w.press(KEY.enter);
    // Step 8: modes explained in one line each; ←→ change; the interval is validated.
    f = await w.waitFor('step 8 of 9');
    expect(f).toContain('sqlite_primary');
    expect(f).toContain('writes land in SQLite, go up at once (development)');
    expect(f).toContain('MySQL is the truth, SQLite a read cache (production)');
    expect(f).toContain('acknowledged once committed on both sides (critical data)');
    await w.press(KEY.right);
    await w.waitFor(/\(•\) mysql_primary/);
    await w.press(KEY.left);
    await w.waitFor(/\(•\) sqlite_primary/);
    await w.press(KEY.tab);
    await w.press(KEY.backspace);
    await w.type('0');
    await w.waitFor('accepted: seconds, a number from 0.1 to 86400');
    await w.press(KEY.backspace);
    await w.type('2');
    await w.waitGone('accepted: seconds');
    await w.press(KEY.tab);
    await w.press(KEY.right, 3); // default → hub-wins → node-wins → newest-wins
    await w.waitFor(/\(•\) newest-wins/);
    // SYNC_KEY_COLLISIONS: the three values, rekey-node first (the default), each explained.
    await w.press(KEY.tab);
    f = await w.waitFor(/Same new id.*\(•\) rekey-node/);
    expect(f).toMatch(/\( \) rekey-hub/);
    expect(f).toMatch(/\( \) manual/);
    await w.waitFor("the node's new row takes a new id from the hub (default)");
    await w.press(KEY.right, 2); // rekey-node → rekey-hub → manual
    await w.waitFor(/\(•\) manual/);
    await w.waitFor('both rows held apart until `dualdb rekeys resolve`');
    await w.press(KEY.enter);
    f = await w.waitFor('capture installed');
    expect(f).toContain('SQLite only: changes queue until a hub is reachable');
    await w.press(KEY.enter);
    // Step 9: saved, mode 0600, summary; Enter hands the config to the shell.
    f = await w.waitFor('step 9 of 9');
    f = await w.waitFor('saved');
    expect(f).toContain(`saved ${envFile()} (mode 0600)`);
    expect(f).toContain('none for now (DUAL_DATABASE=false)');
    expect(f).toContain('sqlite_primary, pull every 2 s, conflicts: newest-wins, same new id: manual');
    expect(f).toContain('Enter opens the monitor');
    expect(statSync(envFile()).mode & 0o777).toBe(0o600);
    const env = readFileSync(envFile(), 'utf8');
    expect(env).toContain('DUAL_DATABASE=false');
    expect(env).toContain('SYNC_INTERVAL=2');
    expect(env).toContain('CONFLICT_POLICY=newest-wins');
    expect(env).toContain('SYNC_KEY_COLLISIONS=manual');
    await w.press(KEY.enter);
    expect(w.done).toHaveLength(1);
    expect(w.done[0]?.dualDatabase).toBe(false);
    expect(w.done[0]?.sqlitePath).toBe(path.join(dir, 'instance', 'epi_detection.db'));
  });

  it('keys that arrive in one read are all applied, even across a screen change', async () => {
    w = renderWizard({ envFile: envFile() });
    await w.waitFor('step 1 of 9');
    // Enter (next screen), then Ctrl+U and a host, then Tab and a port: one write.
    await w.burst('\r\u0015db.example\t\u00153307');
    const f = await w.waitFor(/Port\s+3307/);
    expect(f).toContain('step 2 of 9');
    expect(f).toMatch(/Host\s+db\.example/);
  });

  it('each screen fits the window: the key bar is always the last line', async () => {
    w = renderWizard({ envFile: envFile() });
    await toConnection(w);
    const lines = w.frame().split('\n');
    expect(lines.length).toBeLessThanOrEqual(23);
    expect(lines[lines.length - 1]).toContain('Ctrl+C quit');
  });
});
