/**
 * One entry point for every log the extension and the CLI read: our NDJSON run logs and the
 * logs of other tools (Hugging Face trainer_state.json, TensorBoard event files, CSV). The format
 * is told from the content first and the name second; all of them yield protocol messages, so the
 * run store, alerts and summaries treat an imported run exactly like a recorded one.
 */
import { open, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { PARALLEL_MIN_BYTES, readRunLogParallel } from '../logs/parallelReader';
import { readRunLog } from '../logs/reader';
import { readCsvLog } from './csv';
import { readHfTrainerState } from './hfTrainerState';
import { maskedCrc32c } from './tensorboard/crc';
import { readTensorBoard } from './tensorboard/tensorboard';
import { LogFormat, LogReadOptions, LogReadResult, MessageSink } from './types';

const HEAD_BYTES = 4096;

export class UnknownLogFormatError extends Error {
  constructor(readonly file: string) {
    super(
      `${file}: cannot tell what kind of log this is; expected a Gradient Monitor log (.jsonl), a Hugging Face trainer_state.json, ` +
        'a TensorBoard event file (events.out.tfevents.*) or a CSV with the header step,total_norm[,layer...]',
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
  if (/^"?step"?\s*,\s*"?total_norm"?\s*(,|\r?$)/i.test(firstLine)) return 'csv';
  return undefined;
}

/**
 * The format a file's name promises, so a damaged or empty file still reaches the reader that can
 * say what is wrong.
 */
export function formatFromName(fileName: string): LogFormat | undefined {
  const base = path.basename(fileName).toLowerCase();
  if (base === 'trainer_state.json') return 'hf-trainer-state';
  if (base.startsWith('events.out.tfevents.')) return 'tensorboard';
  if (base.endsWith('.jsonl') || base.endsWith('.ndjson')) return 'gradient-monitor';
  if (base.endsWith('.csv')) return 'csv';
  return undefined;
}

export async function detectLogFormat(file: string): Promise<LogFormat | undefined> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
    return detectFormat(file, head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** Reads a log of any supported format into protocol messages; throws UnknownLogFormatError for anything else. */
export async function readLog(file: string, sink: MessageSink, opts: LogReadOptions = {}): Promise<LogReadResult> {
  const format = await detectLogFormat(file);
  switch (format) {
    case 'gradient-monitor':
      return readOwnLog(file, sink, opts);
    case 'hf-trainer-state':
      return readHfTrainerState(file, sink, opts);
    case 'tensorboard':
      return readTensorBoard(file, sink, opts);
    case 'csv':
      return readCsvLog(file, sink, opts);
    case undefined:
      throw new UnknownLogFormatError(file);
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
