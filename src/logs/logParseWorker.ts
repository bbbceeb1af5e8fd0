/**
 * Worker thread entry for parallel log reading (see parallelReader.ts): reads the byte ranges it is
 * given straight from the file descriptor the main thread opened, parses them, and posts back the
 * packed columns with their buffers transferred.
 */
import { parentPort } from 'node:worker_threads';
import { RangeTask, parseLogRange, readRange } from './logRange';
import { transferList } from './messageColumns';

parentPort?.on('message', (task: RangeTask) => {
  try {
    const { lines, columns } = parseLogRange(readRange(task), task.endsFile);
    parentPort!.postMessage({ index: task.index, lines, columns }, transferList(columns));
  } catch (e) {
    parentPort!.postMessage({ index: task.index, failure: (e as Error).message });
  }
});
