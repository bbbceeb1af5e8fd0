/**
 * Numbers as the text of a run log's JSON. A table's cell that is already a JSON number is written
 * as it is: it denotes exactly the double that parsing it gives, so parsing it only to print it
 * again (V8's slowest paths for the 16-17 digits of a float32 metric) changes nothing but the time.
 */

/** Longer texts (or exponents) could be too large or too small for a finite, normal double. */
const MAX_LENGTH = 40;
const MAX_EXPONENT_DIGITS = 2;

/**
 * Whether `text` is a JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`) short enough
 * to be finite, so that a reader's `JSON.parse` gives the same double as `Number(text)`.
 */
export function isJsonNumberText(text: string): boolean {
  const n = text.length;
  if (n > MAX_LENGTH) return false;
  let i = 0;
  if (i < n && text.charCodeAt(i) === 45) i++; // '-'
  if (i >= n) return false;
  let c = text.charCodeAt(i);
  if (c === 48)
    i++; // a lone leading zero
  else if (c >= 49 && c <= 57) while (i < n && isDigit(text.charCodeAt(i))) i++;
  else return false;
  if (i < n && text.charCodeAt(i) === 46) {
    i++;
    const start = i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === start) return false;
  }
  if (i < n && (text.charCodeAt(i) | 32) === 101) {
    i++;
    c = text.charCodeAt(i);
    if (c === 43 || c === 45) i++;
    const start = i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === start || i - start > MAX_EXPONENT_DIGITS) return false;
  }
  return i === n;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** A number as run-log JSON: non-finite ones as the strings the protocol uses (protocol/json.ts). */
export function jsonNumberText(v: number): string {
  if (Number.isFinite(v)) return String(v);
  return Number.isNaN(v) ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"';
}

/** The number a run-log JSON text of jsonNumberText (or a cell taken as it is) denotes. */
export function numberOfJsonText(text: string): number {
  if (text === '"NaN"') return NaN;
  if (text === '"Infinity"') return Infinity;
  return text === '"-Infinity"' ? -Infinity : Number(text);
}
