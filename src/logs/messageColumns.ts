/**
 * Log messages packed into typed-array columns, so a worker thread that parsed part of a log hands
 * its steps to the main thread as a few transferable buffers instead of structured-cloning one
 * object (and one array of layer norms) per step. Everything a validated step can hold survives
 * the trip exactly, including which optional fields were present; other messages and bad lines
 * travel as they are, placed between the step rows where they were met.
 */
import { ClientMessage, StepMessage } from '../protocol/messages';

const HAS_LAYERS = 1;
const HAS_LOSS = 2;
const HAS_LR = 4;
const HAS_TIME = 8;
const HAS_CLIPPED = 16;
const CLIPPED = 32;
const HAS_SKIPPED = 64;
const SKIPPED = 128;
const HAS_RANK = 256;
const HAS_SEQ = 512;
const NO_TOTAL = 1024;

/** Something other than a step row, met after `before` step rows. */
export interface ColumnExtra {
  before: number;
  /** Line number, counted from the start of the packed text (1 = its first line). */
  line: number;
  message?: ClientMessage;
  error?: string;
  /** Not JSON at all (at a file's end: a write cut short). */
  torn?: boolean;
  /** The file's last line, without a newline after it. */
  tail?: boolean;
}

export interface MessageColumns {
  runIds: string[];
  rows: number;
  runIndex: Uint32Array;
  line: Uint32Array;
  step: Float64Array;
  total: Float64Array;
  fields: Uint16Array;
  loss: Float64Array;
  lr: Float64Array;
  time: Float64Array;
  rank: Float64Array;
  seq: Float64Array;
  /** Row r's layer norms are layerValues[layerEnd[r - 1] .. layerEnd[r]). */
  layerEnd: Uint32Array;
  layerValues: Float64Array;
  extras: ColumnExtra[];
}

export type ParsedLine =
  { line: number; message: ClientMessage } | { line: number; error: string; torn?: boolean; tail?: boolean };

/**
 * Packs messages as they are parsed, so a range's step objects die young instead of all living
 * until the range is done (which made the worker's garbage collector copy them). `maxRows`: at
 * least the steps to come (the range's line count); layer values grow as needed.
 */
export class ColumnsBuilder {
  private readonly c: MessageColumns;
  private readonly runIndexOf = new Map<string, number>();
  private layerAt = 0;

  constructor(maxRows: number) {
    this.c = {
      runIds: [],
      rows: 0,
      runIndex: new Uint32Array(maxRows),
      line: new Uint32Array(maxRows),
      step: new Float64Array(maxRows),
      total: new Float64Array(maxRows),
      fields: new Uint16Array(maxRows),
      loss: new Float64Array(maxRows),
      lr: new Float64Array(maxRows),
      time: new Float64Array(maxRows),
      rank: new Float64Array(maxRows),
      seq: new Float64Array(maxRows),
      layerEnd: new Uint32Array(maxRows),
      layerValues: new Float64Array(maxRows * 8),
      extras: [],
    };
  }

  add(p: ParsedLine): void {
    const c = this.c;
    const r = c.rows;
    if (!('message' in p)) {
      c.extras.push({ before: r, line: p.line, error: p.error, torn: p.torn, tail: p.tail });
      return;
    }
    const m = p.message;
    if (m.type !== 'step') {
      c.extras.push({ before: r, line: p.line, message: m });
      return;
    }
    let runIndex = this.runIndexOf.get(m.run_id);
    if (runIndex === undefined) {
      runIndex = c.runIds.push(m.run_id) - 1;
      this.runIndexOf.set(m.run_id, runIndex);
    }
    c.runIndex[r] = runIndex;
    c.line[r] = p.line;
    c.step[r] = m.step;
    let fields = 0;
    if (m.total_norm === undefined) fields |= NO_TOTAL;
    else c.total[r] = m.total_norm;
    if (m.layer_norms !== undefined) {
      fields |= HAS_LAYERS;
      this.storeLayers(m.layer_norms);
    }
    c.layerEnd[r] = this.layerAt;
    if (m.loss !== undefined) {
      fields |= HAS_LOSS;
      c.loss[r] = m.loss;
    }
    if (m.lr !== undefined) {
      fields |= HAS_LR;
      c.lr[r] = m.lr;
    }
    if (m.time !== undefined) {
      fields |= HAS_TIME;
      c.time[r] = m.time;
    }
    if (m.clipped !== undefined) fields |= HAS_CLIPPED | (m.clipped ? CLIPPED : 0);
    if (m.skipped !== undefined) fields |= HAS_SKIPPED | (m.skipped ? SKIPPED : 0);
    if (m.rank !== undefined) {
      fields |= HAS_RANK;
      c.rank[r] = m.rank;
    }
    if (m.seq !== undefined) {
      fields |= HAS_SEQ;
      c.seq[r] = m.seq;
    }
    c.fields[r] = fields;
    c.rows++;
  }

  /** The columns, each cut to its rows (the views keep their whole buffers, which transfer as they are). */
  finish(): MessageColumns {
    const c = this.c;
    const rows = c.rows;
    return {
      ...c,
      runIndex: c.runIndex.subarray(0, rows),
      line: c.line.subarray(0, rows),
      step: c.step.subarray(0, rows),
      total: c.total.subarray(0, rows),
      fields: c.fields.subarray(0, rows),
      loss: c.loss.subarray(0, rows),
      lr: c.lr.subarray(0, rows),
      time: c.time.subarray(0, rows),
      rank: c.rank.subarray(0, rows),
      seq: c.seq.subarray(0, rows),
      layerEnd: c.layerEnd.subarray(0, rows),
      layerValues: c.layerValues.subarray(0, this.layerAt),
    };
  }

  private storeLayers(norms: number[]): void {
    const c = this.c;
    if (this.layerAt + norms.length > c.layerValues.length) {
      const bigger = new Float64Array(Math.max(c.layerValues.length * 2, this.layerAt + norms.length));
      bigger.set(c.layerValues.subarray(0, this.layerAt));
      c.layerValues = bigger;
    }
    c.layerValues.set(norms, this.layerAt);
    this.layerAt += norms.length;
  }
}

/** The buffers to transfer (not copy) when posting the columns to another thread. */
export function transferList(c: MessageColumns): ArrayBuffer[] {
  return [
    c.runIndex,
    c.line,
    c.step,
    c.total,
    c.fields,
    c.loss,
    c.lr,
    c.time,
    c.rank,
    c.seq,
    c.layerEnd,
    c.layerValues,
  ].map((a) => a.buffer as ArrayBuffer);
}

/** The step of row r, as validation would have built it from its line. */
export function stepAt(c: MessageColumns, r: number): StepMessage {
  const fields = c.fields[r];
  const m: StepMessage = { type: 'step', run_id: c.runIds[c.runIndex[r]], step: c.step[r] };
  if (!(fields & NO_TOTAL)) m.total_norm = c.total[r];
  if (fields & HAS_LAYERS) {
    const from = r === 0 ? 0 : c.layerEnd[r - 1];
    const norms = new Array<number>(c.layerEnd[r] - from);
    for (let i = 0; i < norms.length; i++) norms[i] = c.layerValues[from + i];
    m.layer_norms = norms;
  }
  if (fields & HAS_LOSS) m.loss = c.loss[r];
  if (fields & HAS_LR) m.lr = c.lr[r];
  if (fields & HAS_TIME) m.time = c.time[r];
  if (fields & HAS_CLIPPED) m.clipped = (fields & CLIPPED) !== 0;
  if (fields & HAS_SKIPPED) m.skipped = (fields & SKIPPED) !== 0;
  if (fields & HAS_RANK) m.rank = c.rank[r];
  if (fields & HAS_SEQ) m.seq = c.seq[r];
  return m;
}
