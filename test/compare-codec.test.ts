/**
 * The codec's fast paths (added for compare, which canonicalises every value of
 * every row) give exactly what the general, regular-expression paths give, for
 * any number text and any date-time text — checked against a copy of those
 * general paths on generated inputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonical, canonicalNumber, normaliseDatetimeText } from '../src/engines/codec.js';

/** The general path of canonicalNumber, as it was before the scanner. */
function referenceNumber(text: string): string | undefined {
  const m = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const sign = m[1] === '-' ? '-' : '';
  const intPart = m[2] ?? '';
  const frac = m[3] ?? '';
  let exp = Number(m[4] ?? 0) - frac.length;
  let digits = (intPart + frac).replace(/^0+/, '');
  if (digits === '') return '0';
  const trailing = /0+$/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(0, digits.length - trailing);
  exp += trailing;
  return `${sign}${digits}e${exp}`;
}

/** The general path of canonical() for date-time text. */
function referenceDatetime(v: string): string {
  return `d${normaliseDatetimeText(v)
    .replace(/(\.\d*?)0+$/, '$1')
    .replace(/\.$/, '')}`;
}

const numberChars = fc.constantFrom('0', '0', '1', '5', '9', '-', '+', '.', 'e', 'E', ' ', 'x', '٣');
const numberText = fc.oneof(
  fc.array(numberChars, { maxLength: 24 }).map((a) => a.join('')),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.double({ noNaN: true }).map(String),
  fc
    .tuple(fc.boolean(), fc.stringMatching(/^[0-9]{0,12}$/), fc.stringMatching(/^[0-9]{0,12}$/))
    .map(([neg, i, f]) => `${neg ? '-' : ''}${i}.${f}`),
);

const two = (n: number) => String(n).padStart(2, '0');
const datetimeText = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 0, max: 9999 }),
      fc.integer({ min: 0, max: 99 }),
      fc.integer({ min: 0, max: 99 }),
      fc.constantFrom(' ', 'T', 'x'),
      fc.integer({ min: 0, max: 99 }),
      fc.constantFrom('', '.', '.0', '.000000', '.120', '.123456', '.1000', 'Z', '+00:00', ' ', '.5Z', ':'),
    )
    .map(
      ([y, m, d, sep, h, tail]) => `${String(y).padStart(4, '0')}-${two(m)}-${two(d)}${sep}${two(h)}:${two(m)}:${two(d)}${tail}`,
    ),
  fc
    .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }))
    .map(([y, m, d]) => `${String(y).padStart(4, '0')}-${two(m)}-${two(d)}`),
  fc.string({ maxLength: 30 }),
  fc.array(fc.constantFrom('0', '1', '2', '-', ':', ' ', 'T', '.'), { maxLength: 28 }).map((a) => a.join('')),
);

describe('codec fast paths', () => {
  it('canonicalNumber gives what the general path gives', () => {
    fc.assert(
      fc.property(numberText, (t) => {
        expect(canonicalNumber(t)).toBe(referenceNumber(t));
      }),
      { numRuns: 20_000 },
    );
    for (const t of [
      '',
      '-',
      '+',
      '.',
      '-.',
      '0',
      '-0',
      '-0.0',
      '007',
      '150',
      '1.50',
      '.5',
      '5.',
      '1e5',
      ' 1',
      '9223372036854775807',
    ]) {
      expect(canonicalNumber(t), JSON.stringify(t)).toBe(referenceNumber(t));
    }
  });

  it('canonical() of date-time text gives what the general path gives', () => {
    fc.assert(
      fc.property(
        datetimeText,
        fc.constantFrom('datetime', 'date', 'time') as fc.Arbitrary<'datetime' | 'date' | 'time'>,
        (t, type) => {
          expect(canonical(t, type)).toBe(referenceDatetime(t));
        },
      ),
      { numRuns: 20_000 },
    );
    for (const t of [
      '2024-02-29T23:59:59.999999',
      '2024-03-10 02:30:00.000000',
      '2024-03-10T02:30',
      '2024-01-01',
      '2024-01-01 10:00:00.',
    ]) {
      expect(canonical(t, 'datetime'), t).toBe(referenceDatetime(t));
    }
  });
});
