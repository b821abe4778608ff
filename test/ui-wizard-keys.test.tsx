/**
 * The wizard's keys come from the key table (src/ui/keys.ts) like the
 * monitor's: its key bar and its `?` help are generated from the scopes the
 * screen is in, a key taken by an earlier scope is not offered twice, a text
 * field keeps its typing (`?` is typed there), and the header's step marks
 * follow the path taken. No MySQL server needed.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BINDINGS, hintsFor, resolveKey } from '../src/ui/keys.js';
import { stepMarks } from '../src/ui/wizard/context.js';
import { FORM_SCOPES, MENU_SCOPES } from '../src/ui/wizard/edit.js';
import { tempDir } from './helpers/tmp.js';
import { KEY, renderWizard, type WizardDriver } from './helpers/wizard.js';

let dir: string;
let cleanup: () => void;
let w: WizardDriver | undefined;

beforeEach(() => {
  ({ dir, cleanup } = tempDir('dualdb-wizard-keys-'));
});
afterEach(() => {
  w?.unmount();
  w = undefined;
  cleanup();
});

const lastLine = (f: string) => f.split('\n').at(-1) ?? '';

describe('the wizard in the key table', () => {
  it('resolves its intents by scope, and every wizard scope has a binding with a description', () => {
    expect(resolveKey('', { return: true }, MENU_SCOPES)).toBe('choose');
    expect(resolveKey('3', {}, MENU_SCOPES)).toBe('pick');
    expect(resolveKey('', { tab: true, shift: true }, MENU_SCOPES)).toBe('moveUp');
    expect(resolveKey('', { tab: true }, FORM_SCOPES)).toBe('fieldNext');
    expect(resolveKey(' ', {}, FORM_SCOPES)).toBe('changeNext');
    // While a copy runs, Ctrl+C cancels it before it could leave the setup.
    expect(resolveKey('c', { ctrl: true }, ['wizardCancel', 'wizard'])).toBe('cancel');
    expect(resolveKey('c', { ctrl: true }, ['wizard'])).toBe('quit');
    for (const b of BINDINGS.filter((x) => x.scope.startsWith('wizard'))) expect(b.description.length).toBeGreaterThan(5);
  });

  it('offers in the key bar only the keys that reach their command', () => {
    const running = hintsFor(['wizardCancel', 'wizard']).map((b) => b.command);
    expect(running).toEqual(['cancel', 'toggleHelp']);
    expect(hintsFor([...MENU_SCOPES, 'wizard']).map((b) => b.hint)).toEqual(['choose', 'move', 'back', 'help', 'quit']);
  });

  it('the key bar and the ? help of a screen come from the table; Esc closes the help, the screen is as it was', async () => {
    w = renderWizard({ envFile: path.join(dir, '.env') });
    await w.waitFor('step 1 of 9');
    await w.press(KEY.enter);
    let f = await w.waitFor('step 2 of 9');
    // A text field has the focus: ? is typed there, so the bar does not offer it.
    expect(lastLine(f)).toBe('Enter next  Esc back  Tab/↑↓ field  Ctrl+C quit');
    await w.press(KEY.ctrlU);
    await w.type('nonexistent.invalid');
    await w.press(KEY.enter);
    f = await w.waitFor('was not found', 20_000);
    expect(lastLine(f)).toBe('Enter choose  ↑↓ move  Esc back  ? help  Ctrl+C quit');
    await w.press(KEY.down);
    await w.waitFor('› 2. Edit the connection settings');
    await w.press('?');
    f = await w.waitFor('Help — keys');
    expect(f).toContain('choose an item by its number');
    expect(f).toContain('1–9');
    expect(f).not.toContain('sync now'); // the monitor's keys are not the wizard's
    expect(lastLine(f)).toBe('Esc close  ? help  Ctrl+C quit');
    // Keys of the screen do nothing while the help is open.
    await w.press('1');
    await w.press(KEY.esc);
    f = await w.waitGone('Help — keys');
    expect(f).toContain('step 3 of 9');
    expect(f).toContain('› 2. Edit the connection settings');
  });

  it('? typed in a text field is text, not help', async () => {
    w = renderWizard({ envFile: path.join(dir, '.env') });
    await w.waitFor('step 1 of 9');
    await w.press(KEY.enter);
    await w.waitFor('step 2 of 9');
    await w.press(KEY.ctrlU);
    await w.type('a?b');
    const f = await w.waitFor(/Host\s+a\?b/);
    expect(f).not.toContain('Help — keys');
  });
});

describe('the step marks of the header, per path', () => {
  it('a hub that answers: steps 4 and 5 are passed over', () => {
    expect(stepMarks(['found', 'connection', 'test'])).toBe('● ● ◉ ○ ○ ○ ○ ○ ○');
    expect(stepMarks(['found', 'connection', 'test', 'schema'])).toBe('● ● ● · · ◉ ○ ○ ○');
    expect(stepMarks(['found', 'connection', 'test', 'schema', 'migrate', 'sync', 'save'])).toBe('● ● ● · · ● ● ● ◉');
  });

  it('no hub: the ways on (step 4), then SQLite only or the private server tested again (step 3)', () => {
    expect(stepMarks(['found', 'connection', 'test', 'waysOn'])).toBe('● ● ● ◉ ○ ○ ○ ○ ○');
    expect(stepMarks(['found', 'connection', 'test', 'waysOn', 'schema'])).toBe('● ● ● ● · ◉ ○ ○ ○');
    // The private server started: back to the test of step 3, then on past step 5.
    expect(stepMarks(['found', 'connection', 'test'])).toBe('● ● ◉ ○ ○ ○ ○ ○ ○');
  });

  it('provisioning a user: step 5, then the test again', () => {
    expect(stepMarks(['found', 'connection', 'test', 'provision'])).toBe('● ● ● · ◉ ○ ○ ○ ○');
  });
});
