/**
 * Importing a large table of metrics on two threads. Its rows are parted where the step changes
 * (rows of one step are merged, so none may straddle the parting): a worker (tableImportWorker.ts)
 * converts the second part into a file of its own while this thread converts the first, then that
 * file is appended. The run log is the same bytes as one thread writes; a worker that cannot start
 * or fails leaves its part to this thread.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ProblemList } from '../logs/problems';
import { runLogLine, stepTextLine } from '../logs/runLogText';
import { bundledWorkerScript, startWorker } from '../logs/workerThreads';
import { ClientMessage } from '../protocol/messages';
import { importedRunIdentity } from './identity';
import { ImportedRun } from './importedRun';
import { closeMetricRun } from './metricTable';
import { MetricsCsvFormat, readMetricsCsvRows, TableRows, tableSplit } from './metricsCsv';
import { identifyLog, logSourceBytes, readsStepsAsText } from './readLog';
import type { TablePartData, TablePartReply } from './tableImportWorker';
import { LogReadOptions, LogReadResult } from './types';

/** Below this a table is imported on one thread: starting a worker would cost more than it saves. */
export const TWO_THREAD_TABLE_MIN_BYTES = 8 << 20;
/** The worker holds a chunk of lines and a chunk of the table: far below V8's defaults. */
const WORKER_HEAP = { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 64 };

export interface TableInTwoOptions {
  /** From this size on (default TWO_THREAD_TABLE_MIN_BYTES). */
  minSourceBytes?: number;
  /** The worker's script; default: the bundled tableImportWorker (dist/, or src/ from source). */
  workerScript?: string;
}

/** Where the run log goes: text, and (after it) the bytes of a file. */
export interface RunLogOutput {
  write(text: string): void;
  append(file: string): Promise<void>;
}

/**
 * Imports a CSV table of metrics in two parts when it is large enough and has a place to part;
 * undefined (nothing written) when not, for the caller to import it on one thread.
 */
export async function importTableInTwo(
  source: string,
  out: RunLogOutput,
  run: ImportedRun,
  opts: LogReadOptions & { tableInTwo?: TableInTwoOptions; runId?: string },
): Promise<LogReadResult | undefined> {
  if (opts.parallel?.workers === 0) return undefined;
  const bytes = await logSourceBytes(source).catch(() => 0);
  if (bytes < (opts.tableInTwo?.minSourceBytes ?? TWO_THREAD_TABLE_MIN_BYTES)) return undefined;
  const format = await identifyLog(source).catch(() => undefined);
  if (!format || !readsStepsAsText(source, format)) return undefined;
  const split = await tableSplit(source, format as MetricsCsvFormat, Math.floor(bytes / 2));
  const script = opts.tableInTwo?.workerScript ?? bundledWorkerScript('tableImportWorker', __dirname);
  if (!split || !script) return undefined;

  const part = path.join(tmpdir(), `gradient-monitor-part-${process.pid}-${randomBytes(4).toString('hex')}.jsonl`);
  const data: TablePartData = {
    file: source,
    format: format as MetricsCsvFormat,
    range: split,
    runId: opts.runId ?? importedRunIdentity(source, format).run_id,
    out: part,
    maxProblems: opts.maxProblems,
  };
  let worker;
  try {
    worker = startWorker(script, WORKER_HEAP, data);
  } catch {
    return undefined;
  }
  const answer = new Promise<TablePartReply>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', (e) => resolve({ failure: e.message }));
    worker.once('exit', (code) => resolve({ failure: `the worker exited (${code})` }));
  });
  const message = (m: ClientMessage): void => {
    run.message(m);
    out.write(runLogLine(m));
  };
  const readOptions: LogReadOptions = {
    ...opts,
    stepTexts: (s) => {
      run.stepText(s);
      out.write(stepTextLine(s));
    },
  };
  try {
    const first = await readMetricsCsvRows(source, data.format, message, readOptions, { start: 0, end: split.start });
    const reply = await answer;
    let second: TableRows;
    if ('rows' in reply) {
      await out.append(part);
      run.addSteps(reply.steps);
      second = reply.rows;
    } else second = await readMetricsCsvRows(source, data.format, () => undefined, readOptions, split);
    const result = joinParts(first.result, second.result, opts.maxProblems);
    if (first.runId !== undefined) closeMetricRun(first.incomplete + second.incomplete, first.runId, message, result);
    return result;
  } finally {
    await worker.terminate();
    await rm(part, { force: true });
  }
}

/** What reading the whole table would have said: the second part's lines follow the first's (its header aside). */
function joinParts(first: LogReadResult, second: LogReadResult, maxProblems?: number): LogReadResult {
  const linesBefore = (first.lines ?? 0) - 1;
  const problems = new ProblemList(maxProblems);
  for (const p of first.problems) problems.add(p);
  for (const p of second.problems) problems.add(p.line === undefined ? p : { ...p, line: p.line + linesBefore });
  return {
    format: first.format,
    bytes: first.bytes + second.bytes,
    messages: first.messages + second.messages - 1, // the second part announced the run too
    problems: problems.items,
    tornTail: second.tornTail,
    // Notes from the header (which both parts read) once.
    notes: [...first.notes, ...second.notes.filter((n) => !first.notes.includes(n))],
    lines: linesBefore + (second.lines ?? 0),
  };
}
