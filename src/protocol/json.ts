/**
 * JSON with the non-finite numbers Python's `json.dumps` writes by default (bare NaN, Infinity,
 * -Infinity). JSON.parse rejects those tokens, so a frame that fails the fast path is rewritten:
 * bare tokens outside strings become the strings "NaN"/"Infinity"/"-Infinity", which validation
 * then turns back into numbers. A dedicated scanner (rather than a JSON5 parser) accepts exactly
 * what Python emits and nothing more.
 */

export const NONFINITE_STRINGS = new Map<string, number>([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

export function parseJsonAllowingNonFinite(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const rewritten = quoteBareNonFinite(text);
    if (rewritten === undefined) throw first;
    return JSON.parse(rewritten);
  }
}

/** Returns the text with bare NaN/Infinity/-Infinity quoted, or undefined when there were none. */
export function quoteBareNonFinite(text: string): string | undefined {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    let token: string | undefined;
    if (c === 0x4e /* N */ && text.startsWith('NaN', i)) token = 'NaN';
    else if (c === 0x49 /* I */ && text.startsWith('Infinity', i)) token = 'Infinity';
    else if (c === 0x2d /* - */ && text.startsWith('-Infinity', i)) token = '-Infinity';
    if (token === undefined) continue;
    out += text.slice(last, i) + '"' + token + '"';
    i += token.length - 1;
    last = i + 1;
  }
  return last === 0 ? undefined : out + text.slice(last);
}

/** Decodes a JSON number or one of the non-finite strings; anything else is undefined. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return NONFINITE_STRINGS.get(value);
  return undefined;
}

function nonFiniteReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  }
  return value;
}

/** JSON.stringify that keeps non-finite numbers as their string names instead of turning them into null. */
export function stringifyKeepingNonFinite(value: unknown, indent?: number): string {
  const plain = JSON.stringify(value, null, indent);
  // JSON.stringify writes every non-finite number as null; only then is the slower replacer needed.
  return plain.includes('null') ? JSON.stringify(value, nonFiniteReplacer, indent) : plain;
}
