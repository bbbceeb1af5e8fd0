/**
 * Hugging Face Trainer's `trainer_state.json`: `log_history` entries with `grad_norm` become steps.
 * A file from before Transformers logged grad_norm (< 4.38.0) holds none: its training-loss entries
 * become steps without a norm (protocol.md), so its loss curve still shows.
 * Python writes bare NaN/Infinity, and Transformers logs a NaN grad_norm without a warning, so such
 * entries become non-finite steps and raise the same alert as a live run would.
 *
 * The file is a single JSON document, and a crash while it is written leaves it cut short; so the
 * entries of `log_history` are located by a small scanner and parsed one at a time: every entry
 * before a fault is kept, and a fault is reported with its line.
 */
import { readFile } from 'node:fs/promises';
import { ProblemList } from '../logs/problems';
import { TimeSlicer } from '../logs/timeSlice';
import { parseJsonAllowingNonFinite, toNumber } from '../protocol/json';
import { RunEndMessage, StepMessage } from '../protocol/messages';
import { importedRunIdentity } from './identity';
import { emptyReadResult, LogReadOptions, LogReadResult, MessageSink } from './types';

/** Top-level fields copied into run_start.meta when present. */
const META_FIELDS = [
  'global_step',
  'max_steps',
  'num_train_epochs',
  'logging_steps',
  'train_batch_size',
  'best_model_checkpoint',
  'trial_name',
];

export async function readHfTrainerState(
  file: string,
  sink: MessageSink,
  opts: LogReadOptions = {},
): Promise<LogReadResult> {
  const text = await readFile(file, { encoding: 'utf8', signal: opts.signal });
  opts.onProgress?.(Buffer.byteLength(text));
  const problems = new ProblemList(opts.maxProblems);
  const result: LogReadResult = emptyReadResult('hf-trainer-state', problems.items);
  result.bytes = Buffer.byteLength(text);
  const lines = new LineCounter(text);

  const scan = scanLogHistory(text);
  // The whole document is parsed too, for its top-level fields; a file cut short cannot be.
  const top = scan.closed || !scan.found ? parseTopLevel(text, lines) : undefined;
  if (!scan.found) {
    const why =
      top && 'error' in top
        ? top.error
        : { line: 1, message: 'no "log_history" array: this is not a Hugging Face trainer_state.json' };
    problems.add({ ...why, fatal: true });
    return result;
  }
  if (top && 'error' in top) problems.add(top.error);
  const state = top && 'ok' in top ? top.ok : {};

  const id = importedRunIdentity(file, 'hf-trainer-state');
  const meta: Record<string, unknown> = { source: 'huggingface-trainer-state', file: id.file };
  for (const key of META_FIELDS) if (state[key] !== undefined && state[key] !== null) meta[key] = state[key];
  // The run starts with its first step: a state without any step holds no run to show (nor a "completed" one).
  let steps = 0;
  const emit = (step: StepMessage): void => {
    if (steps++ === 0) sink({ type: 'run_start', run_id: id.run_id, name: id.name, framework: 'pytorch', meta });
    sink(step);
  };
  /** Loss-only steps, imported only when no entry has a grad_norm (an older Transformers wrote the file). */
  let lossOnly: StepMessage[] | undefined = [];

  const slicer = new TimeSlicer(undefined, opts.signal);
  let nonFinite = 0;
  let firstNonFiniteStep = -1;
  const withoutNorm = { training: 0, evaluation: 0, other: 0 };
  let lossSteps: [number, number] | undefined;
  for (const { start, end } of scan.elements) {
    if (slicer.due()) await slicer.yieldTurn();
    const line = lines.lineOf(start);
    const step = entryToStep(text.slice(start, end), id.run_id);
    if ('error' in step) {
      problems.add({ line, message: step.error });
      continue;
    }
    if ('skipped' in step) {
      withoutNorm[step.skipped]++;
      if (step.skipped === 'training' && step.step !== undefined)
        lossSteps = [lossSteps?.[0] ?? step.step, Math.max(lossSteps?.[1] ?? step.step, step.step)];
      if (step.lossOnly) lossOnly?.push(step.lossOnly);
      continue;
    }
    lossOnly = undefined;
    if (!Number.isFinite(step.ok.total_norm)) {
      nonFinite++;
      if (firstNonFiniteStep < 0) firstNonFiniteStep = step.ok.step;
    }
    emit(step.ok);
  }
  const lossCurve = lossOnly !== undefined && lossOnly.length > 0;
  if (lossCurve) for (const step of lossOnly!) emit(step);
  result.messages = steps > 0 ? steps + 1 : 0;

  if (!scan.closed) {
    problems.add({
      line: lines.lineOf(scan.stoppedAt),
      message: `the file ends inside "log_history" (a write cut short?); the ${steps} steps before this line are kept`,
      fatal: true,
    });
  }
  if (lossCurve) {
    result.notes.push(
      `loss only: this trainer_state.json predates grad_norm logging (Transformers >= ${GRAD_NORM_SINCE}, ` +
        `huggingface/transformers#27326); its ${steps} training-loss entries (steps ${lossSteps?.[0]}-${lossSteps?.[1]}) ` +
        'are imported without gradient norms',
    );
  } else if (scan.elements.length > 0 && steps === 0) {
    problems.add({
      line: lines.lineOf(scan.elements[0].start),
      message:
        `no log_history entry has a "grad_norm": Transformers logs it since v${GRAD_NORM_SINCE} (huggingface/transformers#27326), ` +
        'so an older version wrote this file' +
        (withoutNorm.training > 0
          ? `; its ${withoutNorm.training} training-loss entries (steps ${lossSteps?.[0]}-${lossSteps?.[1]}) have no gradient norm to import`
          : ''),
    });
  }
  if (nonFinite > 0) {
    result.notes.push(
      `grad_norm is NaN or infinite at ${nonFinite} logged step${nonFinite === 1 ? '' : 's'} (first at step ${firstNonFiniteStep}); ` +
        'Transformers logs this without a warning, so these steps are flagged as non-finite',
    );
  }
  if (steps > 0 && !lossCurve) {
    const left = (Object.entries(withoutNorm) as [keyof typeof withoutNorm, number][]).filter(([, n]) => n > 0);
    if (left.length > 0)
      result.notes.push(
        `log_history entries without grad_norm were left out: ${left.map(([kind, n]) => `${n} ${ENTRY_KINDS[kind]}`).join(', ')}`,
      );
  }

  const end = steps > 0 ? runEndFor(id.run_id, state, scan.closed) : undefined;
  if (end) {
    sink(end);
    result.messages++;
  }
  return result;
}

/** The first release whose Trainer logs grad_norm (huggingface/transformers#27326; 4.37 did not). */
export const GRAD_NORM_SINCE = '4.38.0';

const ENTRY_KINDS = {
  training: 'training (a loss without a norm)',
  evaluation: 'evaluation',
  other: 'other (such as the final summary)',
};

type EntryKind = keyof typeof ENTRY_KINDS;
type Entry = { ok: StepMessage } | { skipped: EntryKind; step?: number; lossOnly?: StepMessage } | { error: string };

/**
 * One log_history entry: a step, an entry without grad_norm (training logs of old versions, with
 * the step they make when no entry has a norm; eval logs; the summary), or an error.
 */
function entryToStep(text: string, runId: string): Entry {
  let entry: unknown;
  try {
    entry = parseJsonAllowingNonFinite(text);
  } catch (e) {
    return { error: `log_history entry is not valid JSON: ${(e as Error).message}` };
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return { error: 'log_history entry is not an object' };
  const e = entry as Record<string, unknown>;
  if (e.grad_norm === undefined || e.grad_norm === null) {
    const step = typeof e.step === 'number' ? e.step : undefined;
    const loss = toNumber(e.loss);
    if (loss !== undefined && step !== undefined && Number.isSafeInteger(step) && step >= 0) {
      const lossOnly: StepMessage = { type: 'step', run_id: runId, step, loss };
      const lr = toNumber(e.learning_rate);
      if (lr !== undefined) lossOnly.lr = lr;
      return { skipped: 'training', step, lossOnly };
    }
    if (e.loss !== undefined) return { skipped: 'training', step };
    return { skipped: Object.keys(e).some((k) => k.startsWith('eval_')) ? 'evaluation' : 'other', step };
  }
  const norm = toNumber(e.grad_norm);
  if (norm === undefined)
    return { error: `grad_norm must be a number, got ${JSON.stringify(e.grad_norm).slice(0, 40)}` };
  if (typeof e.step !== 'number' || !Number.isSafeInteger(e.step) || e.step < 0) {
    return {
      error: `log_history entry with grad_norm has no valid "step" (got ${JSON.stringify(e.step) ?? 'nothing'})`,
    };
  }
  const step: StepMessage = { type: 'step', run_id: runId, step: e.step, total_norm: norm };
  const loss = toNumber(e.loss);
  if (loss !== undefined) step.loss = loss;
  const lr = toNumber(e.learning_rate);
  if (lr !== undefined) step.lr = lr;
  return { ok: step };
}

/** Finished when the state says it reached max_steps; a checkpoint taken earlier is an interrupted run. */
function runEndFor(runId: string, state: Record<string, unknown>, complete: boolean): RunEndMessage | undefined {
  if (!complete) return undefined;
  const globalStep = state.global_step;
  const maxSteps = state.max_steps;
  if (typeof globalStep !== 'number' || typeof maxSteps !== 'number' || maxSteps <= 0) return undefined;
  if (globalStep >= maxSteps) return { type: 'run_end', run_id: runId, status: 'completed' };
  return {
    type: 'run_end',
    run_id: runId,
    status: 'interrupted',
    message: `trainer state saved at step ${globalStep} of ${maxSteps}`,
  };
}

function parseTopLevel(
  text: string,
  lines: LineCounter,
): { ok: Record<string, unknown> } | { error: { line: number; message: string } } {
  try {
    const doc = parseJsonAllowingNonFinite(text);
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) return { ok: doc as Record<string, unknown> };
    return { error: { line: 1, message: 'the document is not a JSON object' } };
  } catch (e) {
    const message = (e as Error).message;
    const at = /at position (\d+)/.exec(message);
    return {
      error: { line: at ? lines.lineOf(Number(at[1])) : 1, message: `not valid JSON: ${message.split('\n')[0]}` },
    };
  }
}

export interface LogHistoryScan {
  found: boolean;
  /** Text spans of the array's elements, in order. */
  elements: { start: number; end: number }[];
  /** The array's closing bracket was reached. */
  closed: boolean;
  /** Where scanning stopped (the closing bracket, or the start of an element the text ends inside). */
  stoppedAt: number;
}

/**
 * Locates the elements of the top-level "log_history" array without parsing the document. The key
 * cannot be matched inside a string value (its quotes would be escaped there), and the trainer
 * writes no nested key of that name.
 */
export function scanLogHistory(text: string): LogHistoryScan {
  const key = /"log_history"\s*:\s*\[/.exec(text);
  const scan: LogHistoryScan = { found: key !== null, elements: [], closed: false, stoppedAt: text.length };
  if (!key) return scan;
  let i = key.index + key[0].length;
  for (let first = true; ; first = false) {
    i = skipWhitespace(text, i);
    if (!first && text[i] === ',') i = skipWhitespace(text, i + 1);
    if (i >= text.length) break;
    if (text[i] === ']') {
      scan.closed = true;
      scan.stoppedAt = i;
      break;
    }
    const end = endOfValue(text, i);
    if (end < 0) {
      scan.stoppedAt = i;
      break;
    }
    scan.elements.push({ start: i, end });
    i = end;
  }
  return scan;
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i])) i++;
  return i;
}

/** Index just past the JSON value starting at i, or -1 when the text ends inside it. */
function endOfValue(text: string, i: number): number {
  let depth = 0;
  let inString = false;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (inString) {
      if (c === '\\') j++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return j + 1;
      }
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (depth === 0) return j; // the end of a bare scalar inside the enclosing array
      if (--depth === 0) return j + 1;
    } else if (depth === 0 && (c === ',' || /\s/.test(c))) return j;
  }
  return -1;
}

/** 1-based line of a character offset, for offsets asked in increasing order (cheap) or not (rescans). */
class LineCounter {
  private offset = 0;
  private line = 1;
  constructor(private readonly text: string) {}

  lineOf(target: number): number {
    if (target < this.offset) {
      this.offset = 0;
      this.line = 1;
    }
    for (let nl = this.text.indexOf('\n', this.offset); nl !== -1 && nl < target; nl = this.text.indexOf('\n', nl + 1))
      this.line++;
    this.offset = target;
    return this.line;
  }
}
