/** What every log reader (our NDJSON and the importers of other tools' logs) reports besides its messages. */
import { WorkerOptions } from '../logs/parallelReader';
import { ReadProblem } from '../logs/problems';
import { StepText } from '../logs/runLogText';
import { ClientMessage } from '../protocol/messages';

export type LogFormat =
  | 'gradient-monitor'
  | 'hf-trainer-state'
  | 'tensorboard'
  | 'csv'
  | 'lightning-csv'
  | 'wandb-history'
  | 'wandb-chart-csv'
  | 'metrics-csv';

export const LOG_FORMAT_NAMES: Record<LogFormat, string> = {
  'gradient-monitor': 'Gradient Monitor log',
  'hf-trainer-state': 'Hugging Face trainer_state.json',
  tensorboard: 'TensorBoard events',
  csv: 'CSV',
  'lightning-csv': 'Lightning metrics.csv',
  'wandb-history': 'W&B history export',
  'wandb-chart-csv': 'W&B chart CSV export',
  'metrics-csv': 'CSV of logged metrics',
};

/** What the Runs view writes beside a file of another tool. */
export const LOG_FORMAT_SHORT_NAMES: Record<LogFormat, string> = {
  'gradient-monitor': 'Gradient Monitor',
  'hf-trainer-state': 'Hugging Face',
  tensorboard: 'TensorBoard',
  csv: 'CSV',
  'lightning-csv': 'Lightning',
  'wandb-history': 'W&B',
  'wandb-chart-csv': 'W&B chart',
  'metrics-csv': 'CSV',
};

export interface LogReadResult {
  format: LogFormat;
  bytes: number;
  /** Lines read, for line-based formats. */
  lines?: number;
  /** Protocol messages produced. */
  messages: number;
  /** The first problems (up to maxProblems); reading went on past all but a fatal one. */
  problems: ReadProblem[];
  /** The last line was cut short (a crash while writing) and was skipped. */
  tornTail: boolean;
  /** Facts worth telling that are not faults, e.g. steps where a tool logged a NaN norm. */
  notes: string[];
}

export interface LogReadOptions {
  /** Problems kept in `problems`; later ones are dropped. */
  maxProblems?: number;
  /** Called now and then with the bytes read so far. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
  /** How a large run log is parsed by worker threads (`workers: 0`: on the main thread alone). */
  parallel?: WorkerOptions;
  /**
   * For writing a run log: a reader of a table of metrics hands its steps here, with each number as
   * run-log JSON text (the cell as it was written when it is a JSON number), instead of to the
   * message sink. Other messages, and every message of other formats, still go to the sink.
   */
  stepTexts?: StepTextSink;
}

export type MessageSink = (m: ClientMessage) => void;
export type StepTextSink = (s: StepText) => void;

/** A result with nothing read yet, collecting into `problems`. */
export function emptyReadResult(format: LogFormat, problems: ReadProblem[]): LogReadResult {
  return { format, bytes: 0, messages: 0, problems, tornTail: false, notes: [] };
}
