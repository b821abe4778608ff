/**
 * Small pieces the wizard screens are made of: form rows (text with a cursor,
 * masked secrets, toggles, choices) with their inline error, a menu, a spinner,
 * an error block. Shared primitives (KeyHints, ProgressBar, themes) come from
 * src/ui/components; these are specific to forms and live here.
 */
import { Box, Text } from 'ink';
import { useEffect, useState } from 'react';
import { isDualdbError, messageOf } from '../../util/errors.js';
import { redact } from '../../util/redact.js';
import { toneProps, useTheme } from '../theme.js';
import { type FieldSpec, type FormState, type MenuItem, visibleError } from './edit.js';

export const LABEL_WIDTH = 14;
const MASK = '•';

/** A secret as shown on screen: one • per character, never the characters. */
export function masked(value: string): string {
  return MASK.repeat([...value].length);
}

export function FormView({ fields, state, width }: { fields: readonly FieldSpec[]; state: FormState; width: number }) {
  const theme = useTheme();
  const valueWidth = Math.max(10, width - LABEL_WIDTH - 4);
  return (
    <Box flexDirection="column">
      {fields.map((f, i) => {
        const focused = i === state.focus;
        const error = visibleError(fields, state, f.id);
        const marker = focused ? '›' : ' ';
        let valueNode: React.ReactNode;
        if (f.kind === 'text') {
          const raw = String(state.values[f.id] ?? '');
          let shown = f.mask ? masked(raw) : raw;
          // Keep the end (where the cursor is) visible in a long value.
          if (shown.length > valueWidth - 1) shown = `…${shown.slice(shown.length - (valueWidth - 2))}`;
          valueNode = (
            <Text>
              {shown === '' && !focused && f.placeholder ? <Text {...toneProps(theme, 'muted')}>{f.placeholder}</Text> : shown}
              {focused ? <Text inverse> </Text> : null}
              {focused && f.help ? <Text {...toneProps(theme, 'muted')}> {f.help}</Text> : null}
            </Text>
          );
        } else if (f.kind === 'toggle') {
          const on = Boolean(state.values[f.id]);
          valueNode = (
            <Text>
              <Text bold={on}>{on ? '[x]' : '[ ]'} </Text>
              {on ? f.on : f.off}
              {focused && f.help ? <Text {...toneProps(theme, 'muted')}> {f.help}</Text> : null}
            </Text>
          );
        } else {
          const current = f.options.find((o) => o.value === state.values[f.id]);
          valueNode = (
            <Text>
              {f.options.map((o) => (
                <Text key={o.value} bold={o.value === current?.value}>
                  {o.value === current?.value ? '(•)' : '( )'} {o.label}{' '}
                </Text>
              ))}
            </Text>
          );
        }
        return (
          <Box key={f.id} flexDirection="column">
            <Box>
              <Text bold={focused} {...(focused ? toneProps(theme, 'accent') : {})}>
                {marker} {f.label.padEnd(LABEL_WIDTH - 2)}
              </Text>
              <Box width={valueWidth}>{valueNode}</Box>
            </Box>
            {f.kind === 'choice' && focused && (f.options.find((o) => o.value === state.values[f.id])?.help ?? '') !== '' ? (
              <Text {...toneProps(theme, 'muted')} wrap="truncate-end">
                {' '.repeat(LABEL_WIDTH)}
                {f.options.find((o) => o.value === state.values[f.id])?.help}
              </Text>
            ) : null}
            {error ? (
              <Text {...toneProps(theme, 'error')} wrap="wrap">
                {' '.repeat(LABEL_WIDTH)}
                {theme.glyph.error} {error}
              </Text>
            ) : null}
          </Box>
        );
      })}
    </Box>
  );
}

export function MenuView({
  items,
  cursor,
  showHelp = 'selected',
}: {
  items: readonly MenuItem[];
  cursor: number;
  showHelp?: 'selected' | 'all';
}) {
  const theme = useTheme();
  return (
    <Box flexDirection="column">
      {items.map((it, i) => {
        const selected = i === cursor;
        const help = it.disabled ? it.disabled : it.help;
        return (
          <Box key={it.value} flexDirection="column">
            <Text
              bold={selected}
              {...(it.disabled ? toneProps(theme, 'muted') : selected ? toneProps(theme, 'accent') : {})}
              wrap="truncate-end"
            >
              {selected ? '›' : ' '} {i + 1}. {it.label}
            </Text>
            {help && (showHelp === 'all' || selected || it.disabled) ? (
              <Box paddingLeft={6}>
                <Text {...toneProps(theme, 'muted')} wrap="wrap">
                  {help}
                </Text>
              </Box>
            ) : null}
          </Box>
        );
      })}
    </Box>
  );
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A spinner that only ticks while it is shown. */
export function Spinner({ label }: { label: string }) {
  const theme = useTheme();
  const [i, setI] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setI((x) => (x + 1) % FRAMES.length), 120);
    return () => clearInterval(t);
  }, []);
  return (
    <Text>
      <Text {...toneProps(theme, 'info')}>{FRAMES[i]}</Text> {label}
    </Text>
  );
}

/** A failure: the message and, dimmed, the fix. Everything shown passes through redact. */
export function ErrorBlock({ error, prefix }: { error: unknown; prefix?: string }) {
  const theme = useTheme();
  const hint = isDualdbError(error) ? error.hint : undefined;
  return (
    <Box flexDirection="column">
      <Text {...toneProps(theme, 'error')} wrap="wrap">
        {theme.glyph.error} {prefix ?? ''}
        {redact(messageOf(error))}
      </Text>
      {hint ? (
        <Text wrap="wrap">
          <Text bold>Fix: </Text>
          {redact(hint)}
        </Text>
      ) : null}
    </Box>
  );
}

export function Line({
  tone = 'plain',
  glyph,
  children,
}: {
  tone?: Parameters<typeof toneProps>[1];
  glyph?: string;
  children: React.ReactNode;
}) {
  const theme = useTheme();
  // Problems and fixes wrap: a fix cut at the window's edge is no fix.
  return (
    <Text {...toneProps(theme, tone)} wrap="wrap">
      {glyph ? `${glyph} ` : ''}
      {children}
    </Text>
  );
}
