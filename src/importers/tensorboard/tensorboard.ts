/**
 * TensorBoard events (`events.out.tfevents.*`, one file or a run folder of them): scalar tags about
 * gradient norms become steps, with the training loss and learning rate tags alongside. Values
 * arrive one tag per event, so each tag is collected as a column first and the columns are joined
 * by step at the end: a step gets layer_norms only when every layer has a value there. A step
 * logged twice (or again after a restart, in a later file) keeps its last value, as TensorBoard
 * shows it.
 */
import { stat } from 'node:fs/promises';
import { ProblemList } from '../../logs/problems';
import { TimeSlicer } from '../../logs/timeSlice';
import { Framework, StepMessage } from '../../protocol/messages';
import { importedRunIdentity } from '../identity';
import { bestKey, classifyGradNormTag, isLearningRateKey, TagRole, trainingLossRank } from '../metricKeys';
import { UnreadableLogError } from '../sources';
import { emptyReadResult, LogReadOptions, LogReadResult, MessageSink } from '../types';
import { EventWireReader, ScalarKind, ScalarVisitor } from './eventWire';
import { EventFileEntry, findEventFiles } from './runFolder';
import { readRecords } from './records';

type ColumnRole = TagRole | { role: 'loss'; rank: number } | { role: 'lr' };

/** A tag's values in the order logged, in arrays that double as they fill. */
class TagColumn {
  steps = new Float64Array(64);
  values = new Float64Array(64);
  times = new Float64Array(64);
  length = 0;
  constructor(readonly role: ColumnRole) {}

  push(step: number, value: number, time: number): void {
    if (this.length === this.steps.length) {
      const grow = (a: Float64Array): Float64Array<ArrayBuffer> => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.steps = grow(this.steps);
      this.values = grow(this.values);
      this.times = grow(this.times);
    }
    this.steps[this.length] = step;
    this.values[this.length] = value;
    this.times[this.length] = time;
    this.length++;
  }
}

/** Other scalar tags named in the error for events without gradient norms. */
const OTHER_TAGS_NAMED = 10;

function roleOf(tag: string): ColumnRole | null {
  const norm = classifyGradNormTag(tag);
  if (norm) return norm;
  if (tag.startsWith('epoch_')) return null; // Keras's epoch_* tags count epochs, not steps: no step to join them to
  const lossRank = trainingLossRank(tag);
  if (lossRank !== undefined) return { role: 'loss', rank: lossRank };
  return isLearningRateKey(tag) ? { role: 'lr' } : null;
}

/** Reads an event file, or every event file of a run folder as one run. */
export async function readTensorBoard(
  source: string,
  sink: MessageSink,
  opts: LogReadOptions = {},
): Promise<LogReadResult> {
  const isFolder = (await stat(source)).isDirectory();
  const files: EventFileEntry[] = isFolder
    ? await findEventFiles(source)
    : [{ file: source, relative: '', tagPrefix: '' }];
  if (files.length === 0)
    throw new UnreadableLogError(
      source,
      'this folder holds no TensorBoard event file (events.out.tfevents.*), nor do the three folders below it',
    );
  const problems = new ProblemList(opts.maxProblems);
  const result: LogReadResult = emptyReadResult('tensorboard', problems.items);
  const roles = new Map<string, ColumnRole | null>();
  const columns = new Map<string, TagColumn>();
  const otherTags = new Set<string>();
  const kinds = new Set<ScalarKind>();
  let fileVersion = '';
  let lastFileFatal: string | undefined;

  /** A tag as first met: its role and, once it has a scalar, its column. */
  interface TagState {
    tag: string;
    role: ColumnRole | null;
    isNorm: boolean;
    named: boolean;
    column?: TagColumn;
  }
  const stateOf = (tag: string): TagState => {
    let role = roles.get(tag);
    if (role === undefined) {
      role = roleOf(tag);
      roles.set(tag, role);
    }
    return { tag, role, isNorm: role?.role === 'total' || role?.role === 'layer', named: false };
  };
  const add = (t: TagState, kind: ScalarKind, x: number, step: number, time: number) => {
    if (!t.named && !t.isNorm && otherTags.size < OTHER_TAGS_NAMED) {
      otherTags.add(t.tag);
      t.named = true;
    }
    if (t.role === null) return;
    kinds.add(kind);
    if (!t.column) {
      t.column = columns.get(t.tag) ?? new TagColumn(t.role);
      columns.set(t.tag, t.column);
    }
    t.column.push(step, x, time);
  };

  for (const entry of files) {
    const fileProblems = new ProblemList(opts.maxProblems);
    const where = entry.relative ? `${entry.relative}: ` : '';
    const before = result.bytes;
    const wire = new EventWireReader();
    const tagStates: TagState[] = []; // by the reader's tag number, for this file
    const visitor: ScalarVisitor = {
      fileVersion: (version) => {
        if (!fileVersion) fileVersion = version;
      },
      scalar: (id, value, kind, step, time) =>
        add((tagStates[id] ??= stateOf(entry.tagPrefix + wire.tags[id])), kind, value, step, time),
    };
    const read = await readRecords(
      entry.file,
      (bytes, start, end, offset) => {
        try {
          wire.read(bytes, start, end, visitor);
        } catch (e) {
          fileProblems.add({ offset, message: `not a valid Event protobuf: ${(e as Error).message}` });
        }
      },
      fileProblems,
      { signal: opts.signal, onProgress: opts.onProgress && ((bytes) => opts.onProgress!(before + bytes)) },
    );
    result.bytes += read.bytes;
    for (const p of fileProblems.items) problems.add({ ...p, message: where + p.message });
    lastFileFatal = fileProblems.fatal
      ? `${where}event file ends in a damaged record at byte ${fileProblems.fatal.offset}`
      : undefined;
  }

  const byRole = (r: ColumnRole['role']): [string, TagColumn][] => [...columns].filter(([, c]) => c.role.role === r);
  const totals = byRole('total');
  const layers = byRole('layer');
  if (totals.length === 0 && layers.length === 0) {
    const seen = otherTags.size > 0 ? ` (scalar tags found: ${[...otherTags].map((t) => `"${t}"`).join(', ')})` : '';
    const what =
      result.bytes === 0
        ? 'the event file is empty'
        : `no scalar tag names a gradient norm: none contains both "grad" and "norm"${seen}`;
    problems.add(result.bytes === 0 ? { message: what, fatal: true } : { message: what });
    return result;
  }
  // Several total tags (e.g. Keras's batch_ and epoch_ values, or two callbacks): the most complete one is used.
  totals.sort((a, b) => b[1].length - a[1].length);
  const total = totals[0]?.[1];
  if (totals.length > 1)
    result.notes.push(
      `total norm taken from tag "${totals[0][0]}"; also found ${totals
        .slice(1)
        .map(([t]) => `"${t}"`)
        .join(', ')}`,
    );
  if (!total) result.notes.push('no total-norm tag: the total is the L2 norm of the per-layer norms');
  const loss = bestKey(
    byRole('loss'),
    ([, c]) => (c.role as { rank: number }).rank,
    ([, c]) => c.length,
  );
  const lr = bestKey(
    byRole('lr'),
    () => 0,
    ([, c]) => c.length,
  );

  const id = importedRunIdentity(source, 'tensorboard');
  const layerNames = layers.map(([, c]) => (c.role as { layer: string }).layer);
  sink({
    type: 'run_start',
    run_id: id.run_id,
    name: id.name,
    framework: frameworkOf(kinds),
    layers: layerNames.length > 0 ? layerNames : undefined,
    meta: {
      source: 'tensorboard',
      file: id.file,
      event_files: files.length,
      file_version: fileVersion,
      total_tag: totals[0]?.[0],
      layer_tags: layers.map(([t]) => t),
      loss_tag: loss?.[0],
      lr_tag: lr?.[0],
    },
  });
  result.messages++;

  const layerColumns = layers.map(([, c]) => lastValuePerStep(c));
  const base = total ? lastValuePerStep(total) : unionOfSteps(layerColumns);
  const lossColumn = loss && new StepCursor(lastValuePerStep(loss[1]));
  const lrColumn = lr && new StepCursor(lastValuePerStep(lr[1]));
  const layerCursors = layerColumns.map((c) => new StepCursor(c));
  const slicer = new TimeSlicer(undefined, opts.signal);
  let incomplete = 0;
  for (let i = 0; i < base.length; i++) {
    if (slicer.due()) await slicer.yieldTurn();
    const step = base.steps[i];
    const norms = layerValuesAt(step, layerCursors);
    const totalNorm = total ? base.values[i] : norms && Math.sqrt(norms.reduce((acc, v) => acc + v * v, 0));
    if (totalNorm === undefined) {
      incomplete++;
      continue;
    }
    const m: StepMessage = { type: 'step', run_id: id.run_id, step, total_norm: totalNorm };
    if (norms) m.layer_norms = norms;
    const lossValue = lossColumn?.valueAt(step);
    if (lossValue !== undefined) m.loss = lossValue;
    const lrValue = lrColumn?.valueAt(step);
    if (lrValue !== undefined) m.lr = lrValue;
    if (Number.isFinite(base.times[i])) m.time = base.times[i];
    sink(m);
    result.messages++;
  }
  if (incomplete > 0)
    result.notes.push(`${incomplete} steps without a value for every layer (and no total tag) were left out`);

  sink(
    lastFileFatal
      ? { type: 'run_end', run_id: id.run_id, status: 'interrupted', message: lastFileFatal }
      : { type: 'run_end', run_id: id.run_id, status: 'completed' },
  );
  result.messages++;
  return result;
}

/**
 * Which library wrote the scalars: `simple_value` comes from PyTorch's writers (torch.utils.tensorboard,
 * tensorboardX, so Hugging Face and Lightning runs), one-element tensors from TensorFlow's tf.summary
 * (and Keras). Both at once, or neither, says nothing.
 */
function frameworkOf(kinds: Set<ScalarKind>): Framework {
  if (kinds.size !== 1) return 'other';
  return kinds.has('simple_value') ? 'pytorch' : 'tensorflow';
}

interface StepColumn {
  steps: ArrayLike<number>;
  values: ArrayLike<number>;
  times: ArrayLike<number>;
  length: number;
}

/** The column ordered by step, one entry per step (the last logged), sorting only when needed. */
function lastValuePerStep(c: TagColumn): StepColumn {
  let ordered = true;
  let repeated = false;
  for (let i = 1; i < c.length && ordered; i++) {
    if (c.steps[i] < c.steps[i - 1]) ordered = false;
    else if (c.steps[i] === c.steps[i - 1]) repeated = true;
  }
  if (ordered && !repeated) return c; // the usual case: nothing to copy
  // Stable: of equal steps, later entries stay later, so the last logged value is the one kept.
  const n = c.length;
  const order = ordered
    ? undefined
    : Array.from({ length: n }, (_, k) => k).sort((a, b) => c.steps[a] - c.steps[b] || a - b);
  const out = new TagColumn(c.role);
  for (let k = 0; k < n; k++) {
    const i = order ? order[k] : k;
    const next = k + 1 < n ? (order ? order[k + 1] : k + 1) : -1;
    if (next >= 0 && c.steps[next] === c.steps[i]) continue; // a later value for the same step follows
    out.push(c.steps[i], c.values[i], c.times[i]);
  }
  return out;
}

function unionOfSteps(columns: StepColumn[]): StepColumn {
  const byStep = new Map<number, number>();
  for (const c of columns)
    for (let i = 0; i < c.length; i++) byStep.set(c.steps[i], Math.min(byStep.get(c.steps[i]) ?? Infinity, c.times[i]));
  const steps = [...byStep.keys()].sort((a, b) => a - b);
  return { steps, values: [], times: steps.map((s) => byStep.get(s) ?? NaN), length: steps.length };
}

/** Walks a step-ordered column forward, for lookups at increasing steps. */
class StepCursor {
  private k = 0;
  constructor(private readonly column: StepColumn) {}

  valueAt(step: number): number | undefined {
    const c = this.column;
    while (this.k < c.length && c.steps[this.k] < step) this.k++;
    return this.k < c.length && c.steps[this.k] === step ? c.values[this.k] : undefined;
  }
}

/** Every layer's value at `step`, or undefined when one is missing. */
function layerValuesAt(step: number, cursors: StepCursor[]): number[] | undefined {
  if (cursors.length === 0) return undefined;
  const values: number[] = [];
  for (const cursor of cursors) {
    const v = cursor.valueAt(step);
    if (v === undefined) return undefined;
    values.push(v);
  }
  return values;
}
