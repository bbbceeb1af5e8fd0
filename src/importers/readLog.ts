/**
 * One entry point for every log the extension and the CLI read: our NDJSON run logs and the
 * logs of other tools (Hugging Face trainer_state.json, TensorBoard events, Lightning's metrics.csv,
 * W&B exports, CSV). The format
 * is told from the content first and the name second; all of them yield protocol messages, so the
 * run store, alerts and summaries treat an imported run exactly like a recorded one.
 */
import { open, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { PARALLEL_MIN_BYTES, readRunLogParallel } from '../logs/parallelReader';
import { readRunLog } from '../logs/reader';
import { parseCsvLine } from '../logs/csv';
import { readCsvLog } from './csv';
import { readHfTrainerState } from './hfTrainerState';
import { metricsCsvFormat, readMetricsCsv } from './metricsCsv';
import { notALogReason, UnreadableLogError } from './sources';
import { maskedCrc32c } from './tensorboard/crc';
import { findEventFiles, isEventFile } from './tensorboard/runFolder';
import { readTensorBoard } from './tensorboard/tensorboard';
import { LogFormat, LogReadOptions, LogReadResult, MessageSink } from './types';
import { readWandbHistoryJsonl } from './wandbHistory';

const HEAD_BYTES = 4096;

export class UnknownLogFormatError extends UnreadableLogError {
  constructor(file: string) {
    super(
      file,
      'cannot tell what kind of log this is; expected a Gradient Monitor log (.jsonl), a Hugging Face trainer_state.json, ' +
        'TensorBoard events (an events.out.tfevents.* file or its folder), a Lightning metrics.csv, a W&B history ' +
        '(CSV or JSON lines) or chart CSV export, or a CSV with the header step,total_norm[,layer...]',
    );
  }
}

/** The format of a file from its first bytes and its name; undefined when it is none we read. */
export function detectFormat(fileName: string, head: Buffer): LogFormat | undefined {
  return detectFormatFromContent(head) ?? formatFromName(fileName);
}

/** The format its first bytes show, whatever the file is called. */
export function detectFormatFromContent(head: Buffer): LogFormat | undefined {
  if (head.length >= 12 && maskedCrc32c(head.subarray(0, 8)) === head.readUInt32LE(8)) return 'tensorboard';
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const firstLine = text.trimStart().split('\n', 1)[0];
  if (firstLine.startsWith('{') && firstLine.includes('"type"') && firstLine.includes('"run_id"'))
    return 'gradient-monitor';
  if (text.trimStart().startsWith('{') && text.includes('"log_history"')) return 'hf-trainer-state';
  if (firstLine.startsWith('{') && firstLine.includes('"_step"')) return 'wandb-history';
  if (/^"?step"?\s*,\s*"?total_norm"?\s*(,|\r?$)/i.test(firstLine)) return 'csv';
  const header = parseCsvLine(firstLine);
  return header && header.length > 1 ? metricsCsvFormat(header) : undefined;
}

/**
 * The format a file's name promises, so a damaged or empty file still reaches the reader that can
 * say what is wrong.
 */
export function formatFromName(fileName: string): LogFormat | undefined {
  const base = path.basename(fileName).toLowerCase();
  if (base === 'trainer_state.json') return 'hf-trainer-state';
  if (isEventFile(base)) return 'tensorboard';
  if (base === 'metrics.csv') return 'lightning-csv';
  if (base === 'wandb-history.jsonl') return 'wandb-history';
  if (base.endsWith('.jsonl') || base.endsWith('.ndjson')) return 'gradient-monitor';
  if (base.endsWith('.csv')) return 'csv';
  return undefined;
}

/**
 * The format of a log file or a folder of event files; throws UnreadableLogError saying why for
 * anything else (an empty file, a Git LFS pointer, a W&B offline file, a folder without events).
 */
export async function identifyLog(file: string): Promise<LogFormat> {
  const info = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? new UnreadableLogError(file, 'no such file or folder') : e;
  });
  if (info.isDirectory()) {
    if ((await findEventFiles(file)).length > 0) return 'tensorboard';
    throw new UnreadableLogError(
      file,
      'this is a folder, and neither it nor the three folders below it hold TensorBoard event files (events.out.tfevents.*); give a log file, or a folder of event files',
    );
  }
  // A run log being recorded may not have its first line yet: that is a run with no steps, not a fault.
  if (info.size === 0 && formatFromName(file) === 'gradient-monitor') return 'gradient-monitor';
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
    const why = notALogReason(head.subarray(0, bytesRead), info.size);
    if (why) throw new UnreadableLogError(file, why);
    const format = detectFormat(file, head.subarray(0, bytesRead));
    if (!format) throw new UnknownLogFormatError(file);
    return format;
  } finally {
    await handle.close();
  }
}

/** The bytes a log's reader goes through: the file's size, or the sum of a run folder's event files. */
export async function logSourceBytes(file: string): Promise<number> {
  const info = await stat(file);
  if (!info.isDirectory()) return info.size;
  const sizes = await Promise.all((await findEventFiles(file)).map(async (e) => (await stat(e.file)).size));
  return sizes.reduce((a, b) => a + b, 0);
}

/** Whether readLog hands this log's steps to `stepTexts` when given one: the CSV tables of metrics. */
export function readsStepsAsText(file: string, format: LogFormat): boolean {
  if (format === 'wandb-history') return file.toLowerCase().endsWith('.csv');
  return format === 'lightning-csv' || format === 'wandb-chart-csv' || format === 'metrics-csv';
}

/** Reads a log of any supported format into protocol messages; throws UnreadableLogError for anything else. */
export async function readLog(file: string, sink: MessageSink, opts: LogReadOptions = {}): Promise<LogReadResult> {
  const format = await identifyLog(file);
  switch (format) {
    case 'gradient-monitor':
      return readOwnLog(file, sink, opts);
    case 'hf-trainer-state':
      return readHfTrainerState(file, sink, opts);
    case 'tensorboard':
      return readTensorBoard(file, sink, opts);
    case 'csv':
      return readCsvLog(file, sink, opts);
    case 'wandb-history':
      return file.toLowerCase().endsWith('.csv')
        ? readMetricsCsv(file, format, sink, opts)
        : readWandbHistoryJsonl(file, sink, opts);
    case 'lightning-csv':
    case 'wandb-chart-csv':
    case 'metrics-csv':
      return readMetricsCsv(file, format, sink, opts);
  }
}

async function readOwnLog(file: string, sink: MessageSink, opts: LogReadOptions): Promise<LogReadResult> {
  const { size } = await stat(file);
  const options = { maxErrors: opts.maxProblems, onProgress: opts.onProgress, signal: opts.signal };
  const s =
    size >= PARALLEL_MIN_BYTES && opts.parallel?.workers !== 0
      ? await readRunLogParallel(file, sink, { ...options, ...opts.parallel })
      : await readRunLog(file, sink, options);
  return {
    format: 'gradient-monitor',
    bytes: s.bytes,
    lines: s.lines,
    messages: s.messages,
    problems: s.errors,
    tornTail: s.tornTail,
    notes: [],
  };
}
