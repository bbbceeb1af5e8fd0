/**
 * Worker thread entry that formats and writes a run log (see offThreadLogWriter.ts): batches of
 * messages arrive as packed columns (or as lines already formatted), their lines go into the file
 * descriptor the main thread opened, each batch right after the one before, and each written batch
 * is acknowledged in shared memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FileAppender } from './chunkedText';
import { MessageColumns } from './messageColumns';
import { writeColumnLines } from './runLogText';
import { WriteProgress } from './writeProgress';

export interface WriterData {
  fd: number;
  shared: SharedArrayBuffer;
}
/** A batch as columns to format, or as lines the feeder formatted itself while the worker was behind. */
export type WriterRequest = { columns: MessageColumns } | { lines: Uint8Array } | { end: true };
export type WriterReply = { ready: true } | { done: true } | { failure: string };

const { fd, shared } = workerData as WriterData;
const progress = new WriteProgress(shared);
const appender = new FileAppender(fd, 0);
const reply = (r: WriterReply): void => parentPort!.postMessage(r);

parentPort!.on('message', (request: WriterRequest) => {
  if (progress.failed || progress.stopped) return;
  try {
    if ('end' in request) return reply({ done: true });
    if ('lines' in request) appender.writeBytes(request.lines);
    else {
      writeColumnLines(request.columns, appender.text);
      appender.text.flush();
    }
    progress.acknowledge(appender.position);
  } catch (e) {
    progress.fail();
    reply({ failure: (e as Error).message });
  }
});
// An exit the handler above did not see (process.exit in a dependency) must not leave the feeder waiting.
process.on('exit', () => progress.fail());
reply({ ready: true });
