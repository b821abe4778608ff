/**
 * The monitor's own UI state (which overlay is open, a pending question,
 * stopping) as a pure reducer: a command in, the next state and the intent to
 * send to the model out. Tested without rendering anything.
 */
import type { NodeState } from '../../sync/status.js';
import type { Command, Scope } from '../keys.js';
import type { Tone } from '../theme.js';

export type Overlay = 'none' | 'help' | 'compare';

export interface UiState {
  overlay: Overlay;
  /** A question in the key bar: quitting while work runs. */
  confirm: { kind: 'quit'; busy: string } | null;
  stopping: boolean;
}

export type Effect = 'syncNow' | 'togglePause' | 'compare' | 'dismissCompare' | 'quit' | 'exitNow';

export const initialUi: UiState = { overlay: 'none', confirm: null, stopping: false };

/** Which key scopes are live, most specific first. */
export function scopesFor(ui: UiState): Scope[] {
  if (ui.stopping) return [];
  if (ui.confirm) return ['confirm'];
  if (ui.overlay !== 'none') return ['overlay', 'global'];
  return ['monitor', 'global'];
}

export function reduceUi(
  ui: UiState,
  command: Command,
  ctx: { busy: string | null; compareRunning: boolean },
): { ui: UiState; effect?: Effect } {
  // Ctrl+C always works: the first stops cleanly, a second one while stopping leaves at once.
  if (command === 'forceQuit') {
    return ui.stopping ? { ui, effect: 'exitNow' } : { ui: { ...ui, confirm: null, stopping: true }, effect: 'quit' };
  }
  if (ui.stopping) return { ui };
  if (ui.confirm) {
    if (command === 'confirmYes') return { ui: { ...ui, confirm: null, stopping: true }, effect: 'quit' };
    if (command === 'confirmNo') return { ui: { ...ui, confirm: null } };
    return { ui };
  }
  switch (command) {
    case 'syncNow':
      return { ui, effect: 'syncNow' };
    case 'togglePause':
      return { ui, effect: 'togglePause' };
    case 'compare':
      return ctx.compareRunning
        ? { ui: { ...ui, overlay: 'compare' } }
        : { ui: { ...ui, overlay: 'compare' }, effect: 'compare' };
    case 'toggleHelp':
      return { ui: { ...ui, overlay: ui.overlay === 'help' ? 'none' : 'help' } };
    case 'back':
      if (ui.overlay === 'compare') return { ui: { ...ui, overlay: 'none' }, effect: 'dismissCompare' };
      return { ui: { ...ui, overlay: 'none' } };
    case 'quit':
      if (ctx.busy) return { ui: { ...ui, confirm: { kind: 'quit', busy: ctx.busy } } };
      return { ui: { ...ui, stopping: true }, effect: 'quit' };
    default:
      return { ui };
  }
}

export interface StateBadge {
  tone: Tone;
  glyph: string;
  label: string;
}

/** The header badge for each sync state: a tone, a glyph and a word (readable without colour). */
export function stateBadge(state: NodeState | 'connecting'): StateBadge {
  switch (state) {
    case 'online':
      return { tone: 'ok', glyph: '✔', label: 'online' };
    case 'degraded':
      return { tone: 'error', glyph: '✖', label: 'degraded' };
    case 'recovering':
      return { tone: 'warn', glyph: '▲', label: 'recovering' };
    case 'paused':
      return { tone: 'warn', glyph: '‖', label: 'paused' };
    case 'resync-needed':
      return { tone: 'error', glyph: '✖', label: 'resync-needed' };
    case 'local-only':
      return { tone: 'info', glyph: '●', label: 'local-only' };
    case 'stopped':
      return { tone: 'muted', glyph: '■', label: 'stopped' };
    case 'starting':
      return { tone: 'info', glyph: '…', label: 'starting' };
    default:
      return { tone: 'info', glyph: '…', label: 'connecting' };
  }
}

export function logTone(level: string): Tone {
  if (level === 'error') return 'error';
  if (level === 'warn') return 'warn';
  if (level === 'debug') return 'muted';
  return 'plain';
}
