/** Messages as the lines of a run log: the one formatting shared by every thread that writes them. */
import { stringifyKeepingNonFinite } from '../protocol/json';
import { ClientMessage } from '../protocol/messages';
import { ChunkedText } from './chunkedText';
import { MessageColumns, forEachMessage } from './messageColumns';

/**
 * A message as one line of the run log. JSON.stringify with a replacer was most of an import's time;
 * without one it writes non-finite numbers as null, so only a line containing "null" needs the replacer.
 */
export function runLogLine(m: ClientMessage): string {
  const fast = JSON.stringify(m);
  return (fast.includes('null') ? stringifyKeepingNonFinite(m) : fast) + '\n';
}

/** Every message of the columns, in order, as run-log lines. */
export function writeColumnLines(c: MessageColumns, text: ChunkedText): void {
  forEachMessage(c, (m) => text.write(runLogLine(m)));
}
