/**
 * Streaming reader for run logs (NDJSON, one protocol message per line). Reads in large chunks,
 * never holds the whole file, reports bad lines by number and keeps going, and treats an
 * unparseable final line without a newline as a torn write from a crash: skipped, not an error.
 */
import { ClientMessage } from '../protocol/messages';
import { parseJsonAllowingNonFinite } from '../protocol/json';
import { validateMessage, ValidationLimits } from '../protocol/validate';
import { LineReadOptions, readLines } from './lines';

/** A log holds what an endpoint accepted under its own limits, which may exceed the defaults. */
const LOG_LIMITS: Partial<ValidationLimits> = {
  maxLayers: Infinity,
  maxStringLength: Infinity,
  maxMetaChars: Infinity,
};

export interface LogLineError {
  line: number;
  message: string;
}

export interface ReadSummary {
  lines: number;
  messages: number;
  errors: LogLineError[];
  /** The file ended in a partial line (a write cut short by a crash); it was skipped. */
  tornTail: boolean;
  bytes: number;
}

export interface ReadOptions extends LineReadOptions {
  /** Bad lines reported in full; more are counted in `errors` only up to this many. */
  maxErrors?: number;
}

export async function readRunLog(
  file: string,
  onMessage: (m: ClientMessage, line: number) => void,
  opts: ReadOptions = {},
): Promise<ReadSummary> {
  const maxErrors = opts.maxErrors ?? 100;
  const summary: ReadSummary = { lines: 0, messages: 0, errors: [], tornTail: false, bytes: 0 };
  const handleLine = (text: string, lineNo: number, isTail: boolean): void => {
    const parsed = parseLogLine(text);
    if (parsed === undefined) return;
    if ('error' in parsed) {
      if (isTail && parsed.torn) summary.tornTail = true;
      else if (summary.errors.length < maxErrors) summary.errors.push({ line: lineNo, message: parsed.error });
      return;
    }
    summary.messages++;
    onMessage(parsed.ok, lineNo);
  };
  const { lines, bytes } = await readLines(file, handleLine, opts);
  summary.lines = lines;
  summary.bytes = bytes;
  return summary;
}

/**
 * One log line as a message; undefined for a blank line. `torn` marks text that is not JSON at
 * all, which at the end of a file is a write cut short rather than a bad line.
 */
export function parseLogLine(text: string): { ok: ClientMessage } | { error: string; torn?: boolean } | undefined {
  if (text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = parseJsonAllowingNonFinite(text);
  } catch (e) {
    return { error: `not valid JSON: ${(e as Error).message}`, torn: true };
  }
  return validateMessage(parsed, LOG_LIMITS);
}
