/**
 * Streaming reader for run logs (NDJSON, one protocol message per line). Reads in large chunks,
 * never holds the whole file, reports bad lines by number and keeps going, and treats an
 * unparseable final line without a newline as a torn write from a crash: skipped, not an error.
 */
import { ClientMessage } from '../protocol/messages';
import { parseJsonAllowingNonFinite } from '../protocol/json';
import { validateMessage } from '../protocol/validate';
import { LineReadOptions, readLines } from './lines';

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

export async function readRunLog(file: string, onMessage: (m: ClientMessage, line: number) => void, opts: ReadOptions = {}): Promise<ReadSummary> {
  const maxErrors = opts.maxErrors ?? 100;
  const summary: ReadSummary = { lines: 0, messages: 0, errors: [], tornTail: false, bytes: 0 };
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
    const result = validateMessage(parsed);
    if ('error' in result) {
      if (summary.errors.length < maxErrors) summary.errors.push({ line: lineNo, message: result.error });
      return;
    }
    summary.messages++;
    onMessage(result.ok, lineNo);
  };
  const { lines, bytes } = await readLines(file, handleLine, opts);
  summary.lines = lines;
  summary.bytes = bytes;
  return summary;
}
