/**
 * The shared terminal primitives and the key table: sparkline, progress bar,
 * badges, the too-small guard, the hint bar and help generated from the key
 * table, the key router, and NO_COLOR (meaning carried by glyphs and words).
 */
import { Box, Text } from 'ink';
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { Badge } from '../src/ui/components/Badge.js';
import { helpLines } from '../src/ui/components/HelpOverlay.js';
import { hintText, KeyHints } from '../src/ui/components/KeyHints.js';
import { Panel } from '../src/ui/components/Panel.js';
import { ProgressBar, progressBar } from '../src/ui/components/ProgressBar.js';
import { SizeGuard, tooSmallMessage } from '../src/ui/components/SizeGuard.js';
import { Sparkline, sparkline } from '../src/ui/components/Sparkline.js';
import { BINDINGS, bindingLabel, hintsFor, keyLabel, resolveKey, splitInput } from '../src/ui/keys.js';
import { shortVersion } from '../src/ui/monitor/HealthPanels.js';
import { stateBadge } from '../src/ui/monitor/state.js';
import { defaultTheme, noColorTheme, ThemeContext, themeFromEnv, toneProps, wantsNoColor } from '../src/ui/theme.js';
import { hasColour, strip, withColours } from './helpers/ink.js';

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

describe('sparkline', () => {
  it('scales to the maximum: zero is the baseline, the peak is a full bar', () => {
    expect(sparkline([0, 1, 2, 4, 8], 5)).toBe('▁▃▄▅█');
    expect(sparkline([0, 1, 2, 3, 4, 5, 6], 7)).toBe('▁▃▄▅▆▇█');
    expect(sparkline([0, 0, 0], 3)).toBe('▁▁▁');
    // Any activity stands above the baseline, however small next to the peak.
    expect(sparkline([1, 1000], 2)).toBe('▂█');
  });

  it('keeps the newest values and pads older slots with the baseline', () => {
    expect(sparkline([5, 5, 5, 9], 2)).toBe('▅█');
    expect(sparkline([3], 4)).toBe('▁▁▁█');
    expect(sparkline([1, 2, 3], 0)).toBe('');
    expect(sparkline([Number.NaN, -1, 2], 3)).toBe('▁▁█');
  });

  it('renders as one line of the given width', () => {
    const { lastFrame } = render(<Sparkline values={Array.from({ length: 60 }, (_, i) => i % 7)} width={30} />);
    expect(strip(lastFrame())).toHaveLength(30);
  });
});

describe('progress bar', () => {
  it('fills in proportion and prints the percentage (readable without colour)', () => {
    expect(progressBar(0.5, 10)).toBe('█████░░░░░');
    expect(progressBar(2, 4)).toBe('████');
    expect(progressBar(Number.NaN, 4)).toBe('░░░░');
    const { lastFrame } = render(<ProgressBar value={0.25} width={20} />);
    expect(strip(lastFrame())).toContain('25%');
    expect(strip(lastFrame())).toHaveLength(20);
  });
});

describe('state badges', () => {
  it('pair every state with a glyph and a word', () => {
    const states = ['online', 'degraded', 'recovering', 'paused', 'resync-needed', 'local-only', 'starting', 'stopped'] as const;
    for (const s of states) {
      const b = stateBadge(s);
      expect(b.label).toBe(s);
      expect(b.glyph).toMatch(/\S/);
    }
    expect(stateBadge('online')).toMatchObject({ tone: 'ok', glyph: '✔' });
    expect(stateBadge('degraded')).toMatchObject({ tone: 'error', glyph: '✖' });
    expect(stateBadge('recovering')).toMatchObject({ tone: 'warn', glyph: '▲' });
    expect(stateBadge('paused')).toMatchObject({ tone: 'warn', glyph: '‖' });
    expect(stateBadge('resync-needed')).toMatchObject({ tone: 'error' });
    expect(stateBadge('local-only')).toMatchObject({ tone: 'info' });
  });

  it('render in colour by default and without any under NO_COLOR, the word always there', () => {
    restore = withColours(1);
    const coloured = render(<Badge tone="error" glyph="✖" label="degraded" />).lastFrame();
    expect(hasColour(coloured)).toBe(true);
    const plain = render(
      <ThemeContext.Provider value={noColorTheme}>
        <Badge tone="error" glyph="✖" label="degraded" />
      </ThemeContext.Provider>,
    ).lastFrame();
    expect(hasColour(plain)).toBe(false);
    expect(strip(plain)).toBe('✖ degraded');
    expect(strip(coloured)).toBe('✖ degraded');
  });
});

describe('theme', () => {
  it('follows NO_COLOR (any non-empty value)', () => {
    expect(wantsNoColor({ NO_COLOR: '1' })).toBe(true);
    expect(wantsNoColor({ NO_COLOR: '' })).toBe(false);
    expect(wantsNoColor({})).toBe(false);
    expect(themeFromEnv({ NO_COLOR: 'yes' })).toBe(noColorTheme);
    expect(themeFromEnv({})).toBe(defaultTheme);
  });

  it('has no colour at all in the no-colour theme', () => {
    for (const tone of ['ok', 'warn', 'error', 'info', 'muted', 'accent', 'plain'] as const) {
      expect(toneProps(noColorTheme, tone)).toEqual({});
    }
    expect(noColorTheme.borderColor).toBeUndefined();
  });

  it('gives the no-colour panel a border without colour codes', () => {
    restore = withColours(1);
    const frame = render(
      <ThemeContext.Provider value={noColorTheme}>
        <Panel title="SQLite" width={30} height={4}>
          <Text>inside</Text>
        </Panel>
      </ThemeContext.Provider>,
    ).lastFrame();
    expect(hasColour(frame)).toBe(false);
    const lines = strip(frame).split('\n');
    expect(lines[0]).toMatch(/^╭─ SQLite ─+╮$/);
    expect(lines[0]).toHaveLength(30);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toContain('inside');
    expect(lines[3]).toMatch(/^╰─+╯$/);
  });
});

describe('too-small guard', () => {
  it('shows the minimum size instead of a broken layout, and the content when it fits', () => {
    const small = render(
      <SizeGuard columns={60} rows={20}>
        <Text>the monitor</Text>
      </SizeGuard>,
    ).lastFrame();
    expect(strip(small)).toContain(tooSmallMessage(80, 24));
    expect(strip(small)).toContain('terminal too small, need 80×24');
    expect(strip(small)).toContain('now 60×20');
    expect(strip(small)).not.toContain('the monitor');
    const fits = render(
      <SizeGuard columns={80} rows={24}>
        <Text>the monitor</Text>
      </SizeGuard>,
    ).lastFrame();
    expect(strip(fits)).toBe('the monitor');
  });

  it('never draws more lines than the window has', () => {
    const frame = render(
      <SizeGuard columns={40} rows={3}>
        <Text>x</Text>
      </SizeGuard>,
    ).lastFrame();
    expect(strip(frame).split('\n').length).toBeLessThanOrEqual(2);
  });
});

describe('server versions', () => {
  it('are shortened to fit a half-width panel', () => {
    expect(shortVersion('10.11.19-MariaDB-0+deb12u1')).toBe('MariaDB 10.11.19');
    expect(shortVersion('8.0.36')).toBe('MySQL 8.0.36');
    expect(shortVersion('8.4.0-commercial')).toBe('MySQL 8.4.0');
    expect(shortVersion(null)).toBe('version ?');
  });
});

describe('key table', () => {
  it('declares every command once, each with keys and a description', () => {
    const commands = BINDINGS.map((b) => `${b.scope}:${b.command}`);
    expect(new Set(commands).size).toBe(commands.length);
    for (const b of BINDINGS) {
      expect(b.keys.length).toBeGreaterThan(0);
      expect(b.description.length).toBeGreaterThan(5);
    }
    for (const c of ['syncNow', 'togglePause', 'compare', 'toggleHelp', 'quit', 'back']) {
      expect(BINDINGS.some((b) => b.command === c)).toBe(true);
    }
  });

  it('resolves keys by scope priority', () => {
    expect(resolveKey('s', {}, ['monitor', 'global'])).toBe('syncNow');
    expect(resolveKey('p', {}, ['monitor', 'global'])).toBe('togglePause');
    expect(resolveKey('c', {}, ['monitor', 'global'])).toBe('compare');
    expect(resolveKey('?', {}, ['monitor', 'global'])).toBe('toggleHelp');
    expect(resolveKey('q', {}, ['monitor', 'global'])).toBe('quit');
    expect(resolveKey('c', { ctrl: true }, ['monitor', 'global'])).toBe('forceQuit');
    expect(resolveKey('', { escape: true }, ['overlay', 'global'])).toBe('back');
    // Monitor keys are not live while an overlay is open.
    expect(resolveKey('s', {}, ['overlay', 'global'])).toBeUndefined();
    // In a question, Esc answers no before it could close anything.
    expect(resolveKey('', { escape: true }, ['confirm'])).toBe('confirmNo');
    expect(resolveKey('', { return: true }, ['confirm'])).toBe('confirmYes');
    expect(resolveKey('x', {}, ['monitor', 'global'])).toBeUndefined();
  });

  it('splits a burst of typed keys into single keys', () => {
    expect(splitInput('sq', {}).map((k) => k.input)).toEqual(['s', 'q']);
    expect(splitInput('s', {})).toHaveLength(1);
    expect(splitInput('c', { ctrl: true })).toEqual([{ input: 'c', key: { ctrl: true } }]);
  });

  it('labels keys for people', () => {
    expect(keyLabel({ input: 's' })).toBe('s');
    expect(keyLabel({ escape: true })).toBe('Esc');
    expect(keyLabel({ return: true })).toBe('Enter');
    expect(keyLabel({ input: 'c', ctrl: true })).toBe('Ctrl+C');
  });

  it('generates the hint bar from the table', () => {
    const hints = hintsFor(['monitor', 'global']);
    expect(hintText(hints)).toBe('s sync now  p pause/resume  c compare  ? help  q quit');
    const { lastFrame } = render(
      <Box width={100}>
        <KeyHints bindings={hints} />
      </Box>,
    );
    expect(strip(lastFrame())).toBe(hintText(hints));
  });

  it('generates the help from the table: every binding, with its keys', () => {
    const lines = helpLines();
    expect(lines).toHaveLength(BINDINGS.length);
    for (const b of BINDINGS) {
      expect(lines).toContainEqual({ scope: b.scope, key: bindingLabel(b), description: b.description });
    }
  });
});
