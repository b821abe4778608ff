/**
 * Semantic colour tokens for the terminal app. Components ask for a tone
 * ("ok", "warn", "error"…) and never name a colour; every tone is also paired
 * with a glyph, so meaning survives `NO_COLOR`, monochrome terminals and
 * colour-blind users (k9s/btop convention: ✔ ▲ ✖ next to the colour).
 */
import { createContext, useContext } from 'react';

export type Tone = 'ok' | 'warn' | 'error' | 'info' | 'muted' | 'accent' | 'plain';

export interface Theme {
  name: 'default' | 'no-color';
  /** Ink colour name per tone; undefined = the terminal's default colour. */
  color: Record<Tone, string | undefined>;
  /** Whether `muted` text may use the dim attribute. */
  dim: boolean;
  borderColor: string | undefined;
  /** Glyphs that carry the meaning on their own. */
  glyph: Record<'ok' | 'warn' | 'error' | 'info' | 'paused' | 'pending' | 'push' | 'pull' | 'diff' | 'same', string>;
}

const glyph: Theme['glyph'] = {
  ok: '✔',
  warn: '▲',
  error: '✖',
  info: '●',
  paused: '‖',
  pending: '…',
  push: '↑',
  pull: '↓',
  diff: '≠',
  same: '=',
};

export const defaultTheme: Theme = {
  name: 'default',
  color: {
    ok: 'green',
    warn: 'yellow',
    error: 'red',
    info: 'cyan',
    muted: 'gray',
    accent: 'magenta',
    plain: undefined,
  },
  dim: true,
  borderColor: 'gray',
  glyph,
};

/** NO_COLOR: no colour at all, not even dim; glyphs and words carry the meaning. */
export const noColorTheme: Theme = {
  name: 'no-color',
  color: {
    ok: undefined,
    warn: undefined,
    error: undefined,
    info: undefined,
    muted: undefined,
    accent: undefined,
    plain: undefined,
  },
  dim: false,
  borderColor: undefined,
  glyph,
};

/** https://no-color.org: any non-empty NO_COLOR disables colour. */
export function wantsNoColor(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}

export function themeFromEnv(env: NodeJS.ProcessEnv = process.env): Theme {
  return wantsNoColor(env) ? noColorTheme : defaultTheme;
}

export const ThemeContext = createContext<Theme>(defaultTheme);

export function useTheme(): Theme {
  return useContext(ThemeContext);
}

/** Props for an Ink <Text> in a tone (colour, or nothing under NO_COLOR). */
export function toneProps(theme: Theme, tone: Tone): { color?: string; dimColor?: boolean } {
  const color = theme.color[tone];
  if (tone === 'muted' && theme.dim && !color) return { dimColor: true };
  return color ? { color } : {};
}
