/**
 * Converts a log of any supported format into a Gradient Monitor run log (NDJSON), written
 * atomically: the CLI's `import` and the Runs view's Import command share it.
 */
import { mkdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { fillFileAtomically, writeText } from '../logs/atomicWrite';
import { OffThreadLogWriter, OffThreadWriterOptions } from '../logs/offThreadLogWriter';
import { logFilePath } from '../logs/paths';
import { runLogLine, stepTextLine } from '../logs/runLogText';
import { importedRunIdentity } from './identity';
import { identifyLog, logSourceBytes, readLog, readsStepsAsText } from './readLog';
import { ClientMessage } from '../protocol/messages';
import { ImportedRun } from './importedRun';
import { importTableInTwo, TableInTwoOptions } from './tableImport';
import { LogReadOptions, LogReadResult } from './types';

export { NothingToImportError } from './importedRun';

export interface ConvertOptions extends LogReadOptions {
  /** Replace an existing output file. */
  overwrite?: boolean;
  /** Run id and name to use instead of those made from the source. */
  runId?: string;
  name?: string;
  /**
   * How the run log is written on a worker beside the reading, for a source of OVERLAP_MIN_BYTES or more
   * (TENSORBOARD_OVERLAP_MIN_BYTES for event files; `minSourceBytes` for any; `parallel.workers: 0`: never).
   * Never for tables of metrics (CSV), whose numbers are written as their cells have them.
   */
  writer?: OffThreadWriterOptions & { minSourceBytes?: number };
  /** How a large table of metrics is imported on two threads (tableImport.ts). */
  tableInTwo?: TableInTwoOptions;
}

/** Below this a source is imported on one thread: starting a worker would cost more than it saves. */
export const OVERLAP_MIN_BYTES = 8 << 20;
/**
 * TensorBoard steps are joined by step once the whole file is read, so the writing overlaps only
 * that last part: below this the worker's start costs more than it saves (measured at 21 MB: 20% slower).
 */
export const TENSORBOARD_OVERLAP_MIN_BYTES = 64 << 20;

async function overlapsWriting(source: string, opts: ConvertOptions): Promise<boolean> {
  if (opts.parallel?.workers === 0) return false;
  const bytes = await logSourceBytes(source).catch(() => 0);
  const format = await identifyLog(source).catch(() => undefined);
  // Tables of metrics hand their steps over as their cells' text (LogReadOptions.stepTexts): nothing is
  // left to format, so they are written on one thread.
  if (format && readsStepsAsText(source, format)) return false;
  if (opts.writer?.minSourceBytes !== undefined) return bytes >= opts.writer.minSourceBytes;
  return bytes >= (format === 'tensorboard' ? TENSORBOARD_OVERLAP_MIN_BYTES : OVERLAP_MIN_BYTES);
}

export interface Conversion {
  read: LogReadResult;
  runId: string;
  name: string;
  steps: number;
  /** The run log was written by a worker thread while the main thread read the source. */
  writtenOffThread: boolean;
  /** A table of metrics converted in two parts, the second by a worker thread (tableImport.ts). */
  inTwoParts: boolean;
}

/** The output's folder must exist: writing there first makes a temporary file, whose error would name it instead. */
export class OutputFolderError extends Error {}

async function checkOutputFolder(out: string): Promise<void> {
  const folder = path.dirname(path.resolve(out));
  const info = await stat(folder).catch(() => undefined);
  if (!info) throw new OutputFolderError(`cannot write ${out}: the folder ${folder} does not exist`);
  if (!info.isDirectory()) throw new OutputFolderError(`cannot write ${out}: ${folder} is not a folder`);
  if ((await stat(out).catch(() => undefined))?.isDirectory())
    throw new OutputFolderError(
      `cannot write ${out}: it is a folder; give a file name such as ${path.join(out, 'run.jsonl')}`,
    );
}

export async function convertToRunLog(source: string, out: string, opts: ConvertOptions = {}): Promise<Conversion> {
  await checkOutputFolder(out);
  const overlap = await overlapsWriting(source, opts);
  let conversion: Conversion | undefined;
  await fillFileAtomically(
    out,
    async (handle) => {
      const run = new ImportedRun(opts);
      const offThread = overlap ? await OffThreadLogWriter.start(handle.fd, opts.writer) : undefined;
      if (offThread) {
        try {
          const read = await readLog(source, (m) => offThread.write(renamed(run, m)), opts);
          await offThread.finish();
          conversion = { ...run.summary(source, read), writtenOffThread: !offThread.tookOver, inTwoParts: false };
        } finally {
          await offThread.close();
        }
        return;
      }
      await writeText(handle, async (write, append) => {
        const inTwo = await importTableInTwo(source, { write, append }, run, opts);
        const read =
          inTwo ??
          (await readLog(source, (m) => write(runLogLine(renamed(run, m))), {
            ...opts,
            stepTexts: (s) => {
              run.stepText(s);
              write(stepTextLine(s));
            },
          }));
        conversion = { ...run.summary(source, read), writtenOffThread: false, inTwoParts: inTwo !== undefined };
      });
    },
    { overwrite: opts.overwrite },
  );
  return conversion!;
}

function renamed(run: ImportedRun, m: ClientMessage): ClientMessage {
  run.message(m);
  return m;
}

/**
 * Imports a log into a runs folder under the name a recorded run with the same id would get, so
 * importing the same file again finds (and, with overwrite, replaces) the earlier import.
 */
export async function importIntoFolder(
  source: string,
  folder: string,
  opts: ConvertOptions = {},
): Promise<Conversion & { out: string }> {
  const format = await identifyLog(source);
  const out = logFilePath(folder, importedRunIdentity(source, format).run_id);
  await mkdir(folder, { recursive: true });
  return { ...(await convertToRunLog(source, out, opts)), out };
}
