/**
 * Worker thread entry of a table's import on two threads (tableImport.ts): converts the rows of one
 * range of the table into run-log lines in a file of its own, and answers with what it read.
 */
import { closeSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { FileAppender } from '../logs/chunkedText';
import { stepTextLine } from '../logs/runLogText';
import { MetricsCsvFormat, readMetricsCsvRows, TableRange, TableRows } from './metricsCsv';

export interface TablePartData {
  file: string;
  format: MetricsCsvFormat;
  range: TableRange;
  /** The run id its steps carry (the import's, which may differ from the file's). */
  runId: string;
  out: string;
  maxProblems?: number;
}
export type TablePartReply = { rows: TableRows; steps: number } | { failure: string };

const data = workerData as TablePartData;
const reply = (r: TablePartReply): void => parentPort!.postMessage(r);

async function convertPart(): Promise<void> {
  const fd = openSync(data.out, 'w');
  try {
    const appender = new FileAppender(fd, 0);
    let steps = 0;
    const rows = await readMetricsCsvRows(
      data.file,
      data.format,
      () => undefined, // the run is announced and ended by the main thread
      {
        maxProblems: data.maxProblems,
        stepTexts: (s) => {
          s.run_id = data.runId;
          appender.text.write(stepTextLine(s));
          steps++;
        },
      },
      data.range,
    );
    appender.text.flush();
    reply({ rows, steps });
  } finally {
    closeSync(fd);
  }
}

convertPart().catch((e: Error) => reply({ failure: e.message }));
