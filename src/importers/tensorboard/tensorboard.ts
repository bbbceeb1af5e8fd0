/**
 * TensorBoard event files (`events.out.tfevents.*`): scalar tags about gradient norms become steps.
 * Values arrive one tag per event, so each tag is collected as a column first and the columns are
 * joined by step at the end: a step gets layer_norms only when every layer has a value there.
 * A step logged twice keeps its last value, as TensorBoard shows it.
 */
import { ProblemList } from '../../logs/problems';
import { TimeSlicer } from '../../logs/timeSlice';
import { StepMessage } from '../../protocol/messages';
import { importedRunIdentity } from '../identity';
import { LogReadOptions, LogReadResult, MessageSink } from '../types';
import { decodeEvent, stepNumber } from './eventSchema';
import { readRecords } from './records';
import { scalarValue } from './scalars';
import { classifyGradNormTag, TagRole } from './tags';

class TagColumn {
  readonly steps: number[] = [];
  readonly values: number[] = [];
  readonly times: number[] = [];
  constructor(readonly role: TagRole) {}
}

/** Other scalar tags named in the error for a file without gradient norms. */
const OTHER_TAGS_NAMED = 10;

export async function readTensorBoard(
  file: string,
  sink: MessageSink,
  opts: LogReadOptions = {},
): Promise<LogReadResult> {
  const problems = new ProblemList(opts.maxProblems);
  const result: LogReadResult = {
    format: 'tensorboard',
    bytes: 0,
    messages: 0,
    problems: problems.items,
    tornTail: false,
    notes: [],
  };
  const roles = new Map<string, TagRole | null>();
  const columns = new Map<string, TagColumn>();
  const otherTags = new Set<string>();
  let fileVersion = '';

  const read = await readRecords(
    file,
    (data, offset) => {
      let event;
      try {
        event = decodeEvent(data);
      } catch (e) {
        problems.add({ offset, message: `not a valid Event protobuf: ${(e as Error).message}` });
        return;
      }
      if (event.file_version && !fileVersion) fileVersion = event.file_version;
      const values = event.summary?.value;
      if (!values) return;
      for (const v of values) {
        let role = roles.get(v.tag);
        if (role === undefined) {
          role = classifyGradNormTag(v.tag) ?? null;
          roles.set(v.tag, role);
        }
        if (role === null) {
          if (otherTags.size < OTHER_TAGS_NAMED) otherTags.add(v.tag);
          continue;
        }
        const x = scalarValue(v);
        if (x === undefined) continue;
        let column = columns.get(v.tag);
        if (!column) {
          column = new TagColumn(role);
          columns.set(v.tag, column);
        }
        column.steps.push(stepNumber(event.step));
        column.values.push(x);
        column.times.push(event.wall_time);
      }
    },
    problems,
    opts,
  );
  result.bytes = read.bytes;

  const totals = [...columns].filter(([, c]) => c.role.role === 'total');
  const layers = [...columns].filter(([, c]) => c.role.role === 'layer');
  if (totals.length === 0 && layers.length === 0) {
    const seen = otherTags.size > 0 ? ` (scalar tags found: ${[...otherTags].join(', ')})` : '';
    problems.add({ message: `no scalar tag names a gradient norm: none contains both "grad" and "norm"${seen}` });
    return result;
  }
  // Several total tags (e.g. logged by two callbacks): the most complete one is used.
  totals.sort((a, b) => b[1].steps.length - a[1].steps.length);
  const total = totals[0]?.[1];
  if (totals.length > 1)
    result.notes.push(
      `total norm taken from tag "${totals[0][0]}"; also found ${totals
        .slice(1)
        .map(([t]) => `"${t}"`)
        .join(', ')}`,
    );
  if (!total) result.notes.push('no total-norm tag: the total is the L2 norm of the per-layer norms');

  const id = importedRunIdentity(file, 'tensorboard');
  const layerNames = layers.map(([, c]) => (c.role as { layer: string }).layer);
  sink({
    type: 'run_start',
    run_id: id.run_id,
    name: id.name,
    framework: 'other',
    layers: layerNames.length > 0 ? layerNames : undefined,
    meta: {
      source: 'tensorboard',
      file: id.file,
      file_version: fileVersion,
      total_tag: totals[0]?.[0],
      layer_tags: layers.map(([t]) => t),
    },
  });
  result.messages++;

  const layerColumns = layers.map(([, c]) => lastValuePerStep(c));
  const base = total ? lastValuePerStep(total) : unionOfSteps(layerColumns);
  const cursors = new Array<number>(layerColumns.length).fill(0);
  const slicer = new TimeSlicer(undefined, opts.signal);
  let incomplete = 0;
  for (let i = 0; i < base.steps.length; i++) {
    if (slicer.due()) await slicer.yieldTurn();
    const step = base.steps[i];
    const norms = layerValuesAt(step, layerColumns, cursors);
    const totalNorm = total ? base.values[i] : norms && Math.sqrt(norms.reduce((acc, v) => acc + v * v, 0));
    if (totalNorm === undefined) {
      incomplete++;
      continue;
    }
    const m: StepMessage = { type: 'step', run_id: id.run_id, step, total_norm: totalNorm };
    if (norms) m.layer_norms = norms;
    if (Number.isFinite(base.times[i])) m.time = base.times[i];
    sink(m);
    result.messages++;
  }
  if (incomplete > 0)
    result.notes.push(`${incomplete} steps without a value for every layer (and no total tag) were left out`);

  const fatal = problems.fatal;
  sink(
    fatal
      ? {
          type: 'run_end',
          run_id: id.run_id,
          status: 'interrupted',
          message: `event file ends in a damaged record at byte ${fatal.offset}`,
        }
      : { type: 'run_end', run_id: id.run_id, status: 'completed' },
  );
  result.messages++;
  return result;
}

interface StepColumn {
  steps: number[];
  values: number[];
  times: number[];
}

/** The column ordered by step, one entry per step (the last logged), sorting only when needed. */
function lastValuePerStep(c: TagColumn): StepColumn {
  let ordered = true;
  let repeated = false;
  for (let i = 1; i < c.steps.length && ordered; i++) {
    if (c.steps[i] < c.steps[i - 1]) ordered = false;
    else if (c.steps[i] === c.steps[i - 1]) repeated = true;
  }
  if (ordered && !repeated) return c; // the usual case: nothing to copy
  // Stable: of equal steps, later entries stay later, so the last logged value is the one kept.
  const order = ordered ? undefined : c.steps.map((_, k) => k).sort((a, b) => c.steps[a] - c.steps[b] || a - b);
  const out: StepColumn = { steps: [], values: [], times: [] };
  const n = c.steps.length;
  for (let k = 0; k < n; k++) {
    const i = order ? order[k] : k;
    const next = k + 1 < n ? (order ? order[k + 1] : k + 1) : -1;
    if (next >= 0 && c.steps[next] === c.steps[i]) continue; // a later value for the same step follows
    out.steps.push(c.steps[i]);
    out.values.push(c.values[i]);
    out.times.push(c.times[i]);
  }
  return out;
}

function unionOfSteps(columns: StepColumn[]): StepColumn {
  const byStep = new Map<number, number>();
  for (const c of columns) c.steps.forEach((s, i) => byStep.set(s, Math.min(byStep.get(s) ?? Infinity, c.times[i])));
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  return { steps, values: [], times: steps.map((s) => byStep.get(s) ?? NaN) };
}

/** Every layer's value at `step` (cursors walk each column forward), or undefined when one is missing. */
function layerValuesAt(step: number, columns: StepColumn[], cursors: number[]): number[] | undefined {
  if (columns.length === 0) return undefined;
  const values: number[] = [];
  let complete = true;
  columns.forEach((c, l) => {
    let k = cursors[l];
    while (k < c.steps.length && c.steps[k] < step) k++;
    cursors[l] = k;
    if (k < c.steps.length && c.steps[k] === step) values.push(c.values[k]);
    else complete = false;
  });
  return complete ? values : undefined;
}
