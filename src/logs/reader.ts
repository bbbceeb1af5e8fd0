/**
 * Streaming reader for run logs (NDJSON, one protocol message per line). Reads in large chunks,
 * never holds the whole file, reports bad lines by number and keeps going, and treats an
 * unparseable final line without a newline as a torn write from a crash: skipped, not an error.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { ClientMessage } from '../protocol/messages';
import { parseJsonAllowingNonFinite } from '../protocol/json';
import { validateMessage, ValidationLimits } from '../protocol/validate';

/** A log holds what an endpoint accepted under its own limits, which may exceed the defaults. */
const LOG_LIMITS: Partial<ValidationLimits> = { maxLayers: Infinity, maxStringLength: Infinity, maxMetaChars: Infinity };

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

export interface ReadOptions {
  /** Bad lines reported in full; more are counted in `errors` only up to this many. */
  maxErrors?: number;
  /** Called after each chunk with the bytes read so far, for progress reporting. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export async function readRunLog(file: string, onMessage: (m: ClientMessage, line: number) => void, opts: ReadOptions = {}): Promise<ReadSummary> {
  const maxErrors = opts.maxErrors ?? 100;
  const summary: ReadSummary = { lines: 0, messages: 0, errors: [], tornTail: false, bytes: 0 };
  const decoder = new StringDecoder('utf8');
  let rest = '';
  const handleLine = (text: string, lineNo: number, isTail: boolean): void => {
    if (text.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = parseJsonAllowingNonFinite(text);
    } catch (e) {
      if (isTail) {
        summary.tornTail = true;
        return;
      }
      if (summary.errors.length < maxErrors) summary.errors.push({ line: lineNo, message: `not valid JSON: ${(e as Error).message}` });
      return;
    }
    const result = validateMessage(parsed, LOG_LIMITS);
    if ('error' in result) {
      if (summary.errors.length < maxErrors) summary.errors.push({ line: lineNo, message: result.error });
      return;
    }
    summary.messages++;
    onMessage(result.ok, lineNo);
  };
  const stream = createReadStream(file, { highWaterMark: 1 << 20, signal: opts.signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    summary.bytes += chunk.length;
    const text = rest + decoder.write(chunk);
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      summary.lines++;
      handleLine(text.slice(start, nl), summary.lines, false);
      start = nl + 1;
    }
    rest = text.slice(start);
    opts.onProgress?.(summary.bytes);
  }
  rest += decoder.end();
  if (rest.length > 0) {
    summary.lines++;
    handleLine(rest, summary.lines, true);
  }
  return summary;
}

/** One-line description of a read's problems, naming the file and the first bad lines. */
export function describeProblems(file: string, s: ReadSummary): string | undefined {
  if (s.errors.length === 0) return undefined;
  const first = s.errors.slice(0, 3).map((e) => `line ${e.line}: ${e.message}`).join('; ');
  const more = s.errors.length > 3 ? ` (and ${s.errors.length - 3} more bad lines)` : '';
  return `${file}: ${first}${more}`;
}
