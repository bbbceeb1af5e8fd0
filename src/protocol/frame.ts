/**
 * Splits a frame's text into its messages' texts without parsing them, so each message can be
 * recorded exactly as it arrived instead of being re-serialised: turning a step's numbers back into
 * text cost twice as much as parsing them and kept the endpoint far below the transport's ceiling
 * (see BENCHMARKS.md, "Ingest"). One pass tracks strings and nesting, and notes whether a message
 * can be stored verbatim: no bare NaN/Infinity tokens (the log spells them as strings) and no line
 * breaks (a log line is one message).
 */

export interface FrameElement {
  text: string;
  /** The text can go into a log line as it is. */
  verbatim: boolean;
  /** The text holds bare NaN/Infinity tokens that JSON.parse rejects. */
  bareNonFinite: boolean;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const LF = 0x0a;
const CR = 0x0d;
const N = 0x4e;
const I = 0x49;

/**
 * The messages of a frame (one object, or an array of them) as texts; undefined when the frame is
 * not shaped like either, so that the caller's full JSON parse reports the error.
 */
export function splitFrame(text: string): FrameElement[] | undefined {
  let start = 0;
  while (start < text.length && isSpace(text.charCodeAt(start))) start++;
  const first = text.charCodeAt(start);
  if (first === OPEN_BRACE) return scan(text, start, false);
  if (first === OPEN_BRACKET) return scan(text, start + 1, true);
  return undefined;
}

function scan(text: string, from: number, isArray: boolean): FrameElement[] | undefined {
  const out: FrameElement[] = [];
  let depth = 0;
  let elementStart = from;
  let verbatim = true;
  let bare = false;
  const push = (end: number): boolean => {
    const t = text.slice(elementStart, end).trim();
    if (t.length === 0) return false;
    out.push({ text: t, verbatim: verbatim && !bare, bareNonFinite: bare });
    verbatim = true;
    bare = false;
    return true;
  };
  for (let i = from; i < text.length; i++) {
    // Sticky regexes skip the long runs of ordinary characters (digits, string bodies) natively.
    const plain = depth === 0 ? PLAIN : PLAIN_NESTED;
    plain.lastIndex = i;
    plain.test(text);
    i = plain.lastIndex;
    if (i >= text.length) break;
    const c = text.charCodeAt(i);
    switch (c) {
      case QUOTE:
        STRING_BODY.lastIndex = i + 1;
        STRING_BODY.test(text);
        i = STRING_BODY.lastIndex; // at the closing quote (or the end: unterminated)
        if (i >= text.length) return undefined;
        break;
      case OPEN_BRACE:
      case OPEN_BRACKET:
        depth++;
        break;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        if (depth === 0) {
          if (!isArray || c !== CLOSE_BRACKET) return undefined;
          if (!push(i) && out.length > 0) return undefined; // "[1,]"
          return rest(text, i + 1) ? out : undefined;
        }
        depth--;
        if (depth === 0 && !isArray) {
          push(i + 1);
          return rest(text, i + 1) ? out : undefined;
        }
        break;
      case COMMA:
        if (depth === 0 && isArray) {
          if (!push(i)) return undefined;
          elementStart = i + 1;
        }
        break;
      case LF:
      case CR:
        verbatim = false;
        break;
      case N:
      case I:
        bare = true; // outside strings only NaN/Infinity start with these (or broken JSON)
        break;
    }
  }
  return undefined; // unterminated
}

/** Characters with no structural meaning outside strings; inside a message commas do not matter either. */
const PLAIN = /[^"[\]{},\n\rNI]*/y;
const PLAIN_NESTED = /[^"[\]{}\n\rNI]*/y;
/** A string's body up to its closing quote, escapes included. */
const STRING_BODY = /(?:[^"\\]|\\[^])*/y;

function rest(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === LF || c === CR || c === 0x09;
}
