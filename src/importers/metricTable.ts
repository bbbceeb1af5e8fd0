/**
 * Tables of logged metrics, one row per logging call (Lightning's metrics.csv, W&B history and chart
 * exports): which columns hold the step, the gradient norms, the loss and the learning rate, and how
 * rows become steps. Tools write one step over several rows (Lightning logs the learning rate, the
 * norms, validation and epoch means on rows of their own, with the same step), so consecutive rows
 * of one step are merged and a step is emitted when the next one starts. Only rows with a gradient
 * norm make steps; an empty cell is a metric not logged on that row, while `nan`/`inf` are values.
 */
import { jsonNumberText, numberOfJsonText } from '../logs/jsonNumberText';
import { StepText } from '../logs/runLogText';
import { Framework, StepMessage } from '../protocol/messages';
import { bestKey, classifyGradNormTag, isLearningRateKey, STEP_KEYS, trainingLossRank } from './metricKeys';
import { LogFormat, LogReadResult, MessageSink, StepTextSink } from './types';

/** K addresses a column: its index in a CSV row, its key in a JSON object. */
export interface MetricPlan<K> {
  step: K;
  total?: K;
  layers: K[];
  layerNames: string[];
  loss?: K;
  lr?: K;
  /** W&B's `_timestamp`, seconds since the epoch. */
  time?: K;
  /** The names behind each role, for run_start.meta and notes. */
  names: { step: string; total?: string; loss?: string; lr?: string; otherTotals: string[] };
}

export const LIGHTNING_GRAD_NORM_HINT =
  'log them from the LightningModule with `self.log_dict(grad_norm(self, norm_type=2))` in `on_before_optimizer_step` ' +
  '(from lightning.pytorch.utilities import grad_norm)';

/** The plan for these columns (K, name), or why they hold no steps with gradient norms. */
export function planMetrics<K>(columns: readonly (readonly [K, string])[]): MetricPlan<K> | { error: string } {
  const byName = new Map(columns.map(([k, name]) => [name, k]));
  const stepName = STEP_KEYS.find((s) => byName.has(s));
  const totals: (readonly [K, string])[] = [];
  const layers: (readonly [K, string])[] = [];
  const losses: (readonly [K, string])[] = [];
  const lrs: (readonly [K, string])[] = [];
  for (const column of columns) {
    const role = classifyGradNormTag(column[1]);
    if (role?.role === 'total') totals.push(column);
    else if (role?.role === 'layer') layers.push([column[0], role.layer]);
    else if (trainingLossRank(column[1]) !== undefined) losses.push(column);
    else if (isLearningRateKey(column[1])) lrs.push(column);
  }
  if (stepName === undefined)
    return { error: `no step column: expected one of ${STEP_KEYS.map((s) => `"${s}"`).join(', ')}` };
  if (totals.length === 0 && layers.length === 0) {
    const found = losses.length > 0 ? ` (it has the loss: ${losses.map(([, n]) => `"${n}"`).join(', ')})` : '';
    return {
      error: `no column holds a gradient norm: none is named with both "grad" and "norm"${found}`,
    };
  }
  const loss = bestKey(
    losses,
    ([, n]) => trainingLossRank(n) ?? 3,
    () => 0,
  );
  return {
    step: byName.get(stepName) as K,
    total: totals[0]?.[0],
    layers: layers.map(([k]) => k),
    layerNames: layers.map(([, n]) => n),
    loss: loss?.[0],
    lr: lrs[0]?.[0],
    time: byName.get('_timestamp'),
    names: {
      step: stepName,
      total: totals[0]?.[1],
      loss: loss?.[1],
      lr: lrs[0]?.[1],
      otherTotals: totals.slice(1).map(([, n]) => n),
    },
  };
}

/** A step's values, each the last one logged on its rows: numbers, or run-log JSON texts of them. */
export interface StepValues<V> {
  total: V;
  /** Only when every layer has a value. */
  layers?: V[];
  loss?: V;
  lr?: V;
  time?: V;
}

/** Merges the rows of each step and emits the steps that have a gradient norm. */
export class StepAssembler<K, V = number> {
  private step = -1;
  private total: V | undefined;
  private readonly layerValues: (V | undefined)[];
  private loss: V | undefined;
  private lr: V | undefined;
  private time: V | undefined;
  /** Steps whose layer norms were not all logged and that had no total: left out. */
  incomplete = 0;
  emitted = 0;

  /** `norm` makes the total of a step that logged every layer's norm and no total. */
  constructor(
    private readonly plan: MetricPlan<K>,
    private readonly norm: (layers: readonly V[]) => V,
    private readonly emit: (step: number, values: StepValues<V>) => void,
  ) {
    this.layerValues = new Array<V | undefined>(plan.layers.length);
  }

  /**
   * One row: its step (the step column's number) and, through `get`, its other columns' values,
   * undefined where a cell is empty. Returns an error for a row without a valid step.
   */
  row(step: number | undefined, get: (k: K) => V | undefined): string | undefined {
    if (step === undefined || !Number.isSafeInteger(step) || step < 0)
      return `the step ("${this.plan.names.step}") must be an integer >= 0`;
    if (step !== this.step) {
      this.flush();
      this.step = step;
    }
    const p = this.plan;
    if (p.total !== undefined) this.total = get(p.total) ?? this.total;
    for (let l = 0; l < p.layers.length; l++) this.layerValues[l] = get(p.layers[l]) ?? this.layerValues[l];
    if (p.loss !== undefined) this.loss = get(p.loss) ?? this.loss;
    if (p.lr !== undefined) this.lr = get(p.lr) ?? this.lr;
    if (p.time !== undefined) this.time = get(p.time) ?? this.time;
    return undefined;
  }

  /** Emits the step being assembled, if it has a norm; call once more after the last row. */
  flush(): void {
    if (this.step >= 0) {
      const layersComplete = this.layerValues.length > 0 && this.layerValues.every((v) => v !== undefined);
      const layers = layersComplete ? (this.layerValues.slice() as V[]) : undefined;
      const total = this.total ?? (layers && this.norm(layers));
      if (total !== undefined) {
        this.emit(this.step, { total, layers, loss: this.loss, lr: this.lr, time: this.time });
        this.emitted++;
      } else if (this.layerValues.some((v) => v !== undefined)) this.incomplete++;
    }
    this.step = -1;
    this.total = this.loss = this.lr = this.time = undefined;
    this.layerValues.fill(undefined);
  }
}

/** The L2 norm of the layers' norms. */
export function normOfLayers(layers: readonly number[]): number {
  return Math.sqrt(layers.reduce((acc, v) => acc + v * v, 0));
}

export const CUT_OFF_NOTE =
  'the last line has no line break: the file was cut off while being written, so that line was left out and the run is not marked completed';

export interface MetricRun {
  run_id: string;
  name: string;
  file: string;
  format: LogFormat;
  framework?: Framework;
}

/** Emits run_start for a table read with this plan; the returned assembler emits its steps as messages. */
export function startMetricRun<K>(
  plan: MetricPlan<K>,
  run: MetricRun,
  sink: MessageSink,
  result: LogReadResult,
): StepAssembler<K> {
  announceMetricRun(plan, run, sink, result);
  return new StepAssembler<K>(plan, normOfLayers, (step, v) => {
    const m: StepMessage = { type: 'step', run_id: run.run_id, step, total_norm: v.total };
    if (v.layers) m.layer_norms = v.layers;
    if (v.loss !== undefined) m.loss = v.loss;
    if (v.lr !== undefined) m.lr = v.lr;
    if (v.time !== undefined) m.time = v.time;
    sink(m);
    result.messages++;
  });
}

/**
 * Emits run_start like startMetricRun; the returned assembler takes run-log JSON texts and hands its
 * steps to `texts` (for a run log written as the table wrote its numbers).
 */
export function startMetricTextRun<K>(
  plan: MetricPlan<K>,
  run: MetricRun,
  sink: MessageSink,
  result: LogReadResult,
  texts: StepTextSink,
): StepAssembler<K, string> {
  announceMetricRun(plan, run, sink, result);
  const norm = (layers: readonly string[]): string => jsonNumberText(normOfLayers(layers.map(numberOfJsonText)));
  return new StepAssembler<K, string>(plan, norm, (step, v) => {
    const s: StepText = { run_id: run.run_id, step, total_norm: v.total };
    if (v.layers) s.layer_norms = v.layers;
    if (v.loss !== undefined) s.loss = v.loss;
    if (v.lr !== undefined) s.lr = v.lr;
    if (v.time !== undefined) s.time = v.time;
    texts(s);
    result.messages++;
  });
}

function announceMetricRun<K>(plan: MetricPlan<K>, run: MetricRun, sink: MessageSink, result: LogReadResult): void {
  sink({
    type: 'run_start',
    run_id: run.run_id,
    name: run.name,
    framework: run.framework,
    layers: plan.layerNames.length > 0 ? plan.layerNames : undefined,
    meta: { source: run.format, file: run.file, step_column: plan.names.step, total_column: plan.names.total },
  });
  result.messages++;
  if (plan.names.otherTotals.length > 0)
    result.notes.push(
      `total norm taken from "${plan.names.total}"; also found ${plan.names.otherTotals.map((n) => `"${n}"`).join(', ')}`,
    );
}

/** Emits the last step, and run_end unless the file was cut off (its last line had no line break). */
export function endMetricRun(
  assembler: Pick<StepAssembler<unknown, unknown>, 'flush' | 'incomplete'>,
  runId: string,
  sink: MessageSink,
  result: LogReadResult,
): void {
  assembler.flush();
  closeMetricRun(assembler.incomplete, runId, sink, result);
}

/** The notes and the run_end of a table whose rows are all read (in one part or several), its steps emitted. */
export function closeMetricRun(incomplete: number, runId: string, sink: MessageSink, result: LogReadResult): void {
  if (incomplete > 0)
    result.notes.push(`${incomplete} steps without a value for every layer (and no total) were left out`);
  if (result.tornTail) {
    result.notes.push(CUT_OFF_NOTE);
    return;
  }
  sink({ type: 'run_end', run_id: runId, status: 'completed' });
  result.messages++;
}
