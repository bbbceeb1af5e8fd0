/**
 * Splits a frame's text into its messages' texts without parsing them, so each message can be
 * recorded exactly as it arrived instead of being re-serialised: turning a step's numbers back into
 * text cost twice as much as parsing them and kept the endpoint far below the transport's ceiling
 * (see BENCHMARKS.md, "Ingest").
 *
 * Frames batch messages one per line (line-delimited JSON), or as a JSON array. Lines are the fast
 * shape: a native line-feed search finds the messages, and a message's line is already its log
 * line. An array needs one pass that tracks strings and nesting to find its elements.
 */

/**
 * One message's log line without its newline: text, or bytes already encoded as UTF-8 (a slice of a
 * received frame).
 */
export type LogLine = string | Uint8Array;

export interface FrameElement {
  /** The message's text, surrounding whitespace trimmed. */
  text: string;
  /** Where `text` starts in the frame. */
  start: number;
  /** The text holds no line break, so it can go into a log line as it is. */
  verbatim: boolean;
}

export interface SplitFrame {
  /** Several messages (lines or an array), whose errors name the message's index. */
  batched: boolean;
  /** The frame was split at line feeds; a message that fails to parse may mean it was one pretty-printed object. */
  lines: boolean;
  elements: FrameElement[];
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const LF = 0x0a;
const CR = 0x0d;

/**
 * The messages of a frame (one object, objects one per line, or an array of them) as texts;
 * undefined when the frame is not shaped like any of these, so that the caller's full JSON parse
 * reports the error.
 */
export function splitFrame(text: string): SplitFrame | undefined {
  let start = 0;
  while (start < text.length && isSpace(text.charCodeAt(start))) start++;
  let end = text.length;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  const first = text.charCodeAt(start);
  if (first === OPEN_BRACKET) {
    const elements = scan(text, start + 1, true);
    if (elements) return { batched: true, lines: false, elements };
  }
  const lineFeed = text.indexOf('\n', start);
  if (lineFeed !== -1 && lineFeed < end) return splitLines(text, start, end);
  if (first !== OPEN_BRACE) return undefined;
  const elements = scan(text, start, false);
  return elements && { batched: false, lines: false, elements };
}

/** One message per line; blank lines are skipped. */
function splitLines(text: string, from: number, to: number): SplitFrame {
  const elements: FrameElement[] = [];
  const carriageReturns = text.indexOf('\r', from) !== -1;
  for (let lineStart = from; lineStart < to;) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1 || lineEnd > to) lineEnd = to;
    const e = element(text, lineStart, lineEnd);
    if (e) {
      if (carriageReturns && e.text.indexOf('\r') !== -1) e.verbatim = false;
      elements.push(e);
    }
    lineStart = lineEnd + 1;
  }
  return { batched: true, lines: true, elements };
}

function scan(text: string, from: number, isArray: boolean): FrameElement[] | undefined {
  const out: FrameElement[] = [];
  let depth = 0;
  let elementStart = from;
  let verbatim = true;
  const push = (end: number): boolean => {
    const e = element(text, elementStart, end);
    if (!e) return false;
    e.verbatim = verbatim;
    out.push(e);
    verbatim = true;
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
    }
  }
  return undefined; // unterminated
}

/** Characters with no structural meaning outside strings; inside a message commas do not matter either. */
const PLAIN = /[^"[\]{},\n\r]*/y;
const PLAIN_NESTED = /[^"[\]{}\n\r]*/y;
/** A string's body up to its closing quote, escapes included. */
const STRING_BODY = /(?:[^"\\]|\\[^])*/y;

/** The trimmed text between from and to, or undefined when it is blank. */
function element(text: string, from: number, to: number): FrameElement | undefined {
  while (from < to && isSpace(text.charCodeAt(from))) from++;
  while (to > from && isSpace(text.charCodeAt(to - 1))) to--;
  return from === to ? undefined : { text: text.slice(from, to), start: from, verbatim: true };
}

function rest(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === LF || c === CR || c === 0x09;
}
