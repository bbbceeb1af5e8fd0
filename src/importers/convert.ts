/**
 * Converts a log of any supported format into a Gradient Monitor run log (NDJSON), written
 * atomically: the CLI's `import` and the Runs view's Import command share it.
 */
import { mkdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { fillFileAtomically, writeText } from '../logs/atomicWrite';
import { OffThreadLogWriter, OffThreadWriterOptions } from '../logs/offThreadLogWriter';
import { logFilePath } from '../logs/paths';
import { describeReadProblems } from '../logs/problems';
import { runLogLine, stepTextLine } from '../logs/runLogText';
import { importedRunIdentity } from './identity';
import { identifyLog, logSourceBytes, readLog, readsStepsAsText } from './readLog';
import { LogReadOptions, LogReadResult, MessageSink, StepTextSink } from './types';

export class NothingToImportError extends Error {}

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
      const offThread = overlap ? await OffThreadLogWriter.start(handle.fd, opts.writer) : undefined;
      if (offThread) {
        try {
          const converted = await convertMessages(source, (m) => offThread.write(m), opts);
          await offThread.finish();
          conversion = { ...converted, writtenOffThread: !offThread.tookOver };
        } finally {
          await offThread.close();
        }
        return;
      }
      await writeText(handle, async (write) => {
        const converted = await convertMessages(
          source,
          (m) => write(runLogLine(m)),
          opts,
          (s) => write(stepTextLine(s)),
        );
        conversion = { ...converted, writtenOffThread: false };
      });
    },
    { overwrite: opts.overwrite },
  );
  return conversion!;
}

/**
 * Reads the source into `write`, with the run id and name replaced as asked; steps that a reader
 * gives as text go to `writeText` when there is one.
 */
async function convertMessages(
  source: string,
  write: MessageSink,
  opts: ConvertOptions,
  writeText?: StepTextSink,
): Promise<Omit<Conversion, 'writtenOffThread'>> {
  let firstId: string | undefined;
  let name = '';
  let steps = 0;
  const read = await readLog(
    source,
    (m) => {
      firstId ??= m.run_id;
      if (m.run_id === firstId && opts.runId) m.run_id = opts.runId;
      if (m.type === 'run_start' && m.run_id === (opts.runId ?? firstId)) {
        if (opts.name) m.name = opts.name;
        name = m.name ?? m.run_id;
      }
      if (m.type === 'step') steps++;
      write(m);
    },
    {
      ...opts,
      stepTexts:
        writeText &&
        ((s) => {
          firstId ??= s.run_id;
          if (s.run_id === firstId && opts.runId) s.run_id = opts.runId;
          steps++;
          writeText(s);
        }),
    },
  );
  if (steps === 0) {
    const why = describeReadProblems(source, read.problems);
    throw new NothingToImportError(
      why ? `nothing to import from ${why}` : `${source}: nothing to import: no step has a gradient norm`,
    );
  }
  const runId = opts.runId ?? firstId ?? '';
  return { read, runId, name: name || runId, steps };
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
