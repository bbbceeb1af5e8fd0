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

/**
 * A step whose numbers are run-log JSON texts already (see jsonNumberText.ts): a table's cells as
 * they were written. Its line has a step message's fields in the order the importers build them.
 */
export interface StepText {
  run_id: string;
  step: number;
  total_norm: string;
  layer_norms?: string[];
  loss?: string;
  lr?: string;
  time?: string;
}

/** The start of the lines of the last run written: its id is quoted once, not once a step. */
let lineStart = { runId: '', text: '' };

export function stepTextLine(s: StepText): string {
  if (s.run_id !== lineStart.runId)
    lineStart = { runId: s.run_id, text: `{"type":"step","run_id":${JSON.stringify(s.run_id)},"step":` };
  let line = lineStart.text + s.step + ',"total_norm":' + s.total_norm;
  if (s.layer_norms) line += `,"layer_norms":[${s.layer_norms.join(',')}]`;
  if (s.loss !== undefined) line += `,"loss":${s.loss}`;
  if (s.lr !== undefined) line += `,"lr":${s.lr}`;
  if (s.time !== undefined) line += `,"time":${s.time}`;
  return line + '}\n';
}

/** Every message of the columns, in order, as run-log lines. */
export function writeColumnLines(c: MessageColumns, text: ChunkedText): void {
  forEachMessage(c, (m) => text.write(runLogLine(m)));
}
