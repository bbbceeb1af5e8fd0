/** Validation of decoded frames into typed messages. Hostile input yields errors, never exceptions. */
import { splitFrame } from './frame';
import { parseJsonAllowingNonFinite, quoteBareNonFinite, toNumber } from './json';
import {
  ClientMessage,
  ErrorMessage,
  FRAMEWORKS,
  Framework,
  RUN_STATUSES,
  RunEndMessage,
  RunStartMessage,
  RunStatus,
  StepMessage,
} from './messages';

export interface ValidationLimits {
  /** Messages in one batched frame. */
  maxBatch: number;
  /** Layers named in run_start and values in layer_norms. */
  maxLayers: number;
  /** Length of run ids, names and layer names. */
  maxStringLength: number;
}

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = {
  maxBatch: 100_000,
  maxLayers: 100_000,
  maxStringLength: 1024,
};

export interface DecodedFrame {
  messages: ClientMessage[];
  /** For each message, its text as sent when that can be recorded verbatim (see frame.ts). */
  verbatim: (string | undefined)[];
  errors: ErrorMessage[];
}

type Result<T> = { ok: T } | { error: string };

export function decodeFrame(text: string, limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS): DecodedFrame {
  const elements = splitFrame(text);
  if (elements === undefined) return decodeWhole(text, limits);
  const batched = text.trimStart().startsWith('[');
  if (elements.length > limits.maxBatch) return tooMany(elements.length, limits);
  const out: DecodedFrame = { messages: [], verbatim: [], errors: [] };
  for (let i = 0; i < elements.length; i++) {
    const e = elements[i];
    let item: unknown;
    try {
      item = JSON.parse(e.bareNonFinite ? (quoteBareNonFinite(e.text) ?? e.text) : e.text);
    } catch (err) {
      const error: ErrorMessage = { type: 'error', code: 'bad_json', message: `${batched ? `message ${i}` : 'frame'} is not valid JSON: ${(err as Error).message}` };
      if (batched) error.index = i;
      out.errors.push(error);
      continue;
    }
    collect(out, item, i, batched, limits, e.verbatim ? e.text : undefined);
  }
  return out;
}

/** Frames the splitter cannot read as an object or an array of them: parse whole for a precise error. */
function decodeWhole(text: string, limits: ValidationLimits): DecodedFrame {
  let raw: unknown;
  try {
    raw = parseJsonAllowingNonFinite(text);
  } catch (e) {
    return { messages: [], verbatim: [], errors: [{ type: 'error', code: 'bad_json', message: `frame is not valid JSON: ${(e as Error).message}` }] };
  }
  const items = Array.isArray(raw) ? raw : [raw];
  if (items.length > limits.maxBatch) return tooMany(items.length, limits);
  const out: DecodedFrame = { messages: [], verbatim: [], errors: [] };
  items.forEach((item, i) => collect(out, item, i, Array.isArray(raw), limits, undefined));
  return out;
}

function tooMany(n: number, limits: ValidationLimits): DecodedFrame {
  return {
    messages: [],
    verbatim: [],
    errors: [{ type: 'error', code: 'too_many_messages', message: `a frame may hold at most ${limits.maxBatch} messages, this one holds ${n}` }],
  };
}

function collect(out: DecodedFrame, item: unknown, index: number, batched: boolean, limits: ValidationLimits, verbatim: string | undefined): void {
  const result = validateMessage(item, limits);
  if ('ok' in result) {
    out.messages.push(result.ok);
    out.verbatim.push(verbatim);
    return;
  }
  const error: ErrorMessage = { type: 'error', code: result.error.startsWith('unknown message type') ? 'unknown_type' : 'bad_message', message: result.error };
  if (batched) error.index = index;
  if (isRecord(item)) {
    if (typeof item.run_id === 'string') error.run_id = item.run_id;
    if (isSafeInteger(item.seq)) error.seq = item.seq;
  }
  out.errors.push(error);
}

export function validateMessage(value: unknown, limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS): Result<ClientMessage> {
  if (!isRecord(value)) return { error: `a message must be a JSON object, got ${describe(value)}` };
  const type = value.type;
  if (type === 'step') return validateStep(value, limits);
  if (type === 'run_start') return validateRunStart(value, limits);
  if (type === 'run_end') return validateRunEnd(value, limits);
  if (typeof type !== 'string') return { error: `"type" must be a string, got ${describe(type)}` };
  return { error: `unknown message type ${JSON.stringify(clip(type))} (expected run_start, step or run_end)` };
}

function validateRunStart(v: Record<string, unknown>, limits: ValidationLimits): Result<RunStartMessage> {
  const runId = requireRunId(v, limits);
  if (typeof runId !== 'string') return runId;
  const msg: RunStartMessage = { type: 'run_start', run_id: runId };
  if (v.name !== undefined && v.name !== null) {
    if (typeof v.name !== 'string') return { error: `run_start.name must be a string, got ${describe(v.name)}` };
    msg.name = v.name.slice(0, limits.maxStringLength);
  }
  if (v.framework !== undefined && v.framework !== null) {
    if (!FRAMEWORKS.includes(v.framework as Framework)) {
      return { error: `run_start.framework must be one of ${FRAMEWORKS.join(', ')}, got ${describe(v.framework)}` };
    }
    msg.framework = v.framework as Framework;
  }
  if (v.layers !== undefined && v.layers !== null) {
    if (!Array.isArray(v.layers)) return { error: `run_start.layers must be an array of strings, got ${describe(v.layers)}` };
    if (v.layers.length > limits.maxLayers) return { error: `run_start.layers has ${v.layers.length} entries, the limit is ${limits.maxLayers}` };
    const layers: string[] = [];
    for (let i = 0; i < v.layers.length; i++) {
      const layer = v.layers[i];
      if (typeof layer !== 'string') return { error: `run_start.layers[${i}] must be a string, got ${describe(layer)}` };
      layers.push(layer.slice(0, limits.maxStringLength));
    }
    msg.layers = layers;
  }
  if (v.threshold !== undefined && v.threshold !== null) {
    const threshold = toNumber(v.threshold);
    if (threshold === undefined || Number.isNaN(threshold) || threshold <= 0) {
      return { error: `run_start.threshold must be a positive number, got ${describe(v.threshold)}` };
    }
    msg.threshold = threshold;
  }
  if (v.meta !== undefined && v.meta !== null) {
    if (!isRecord(v.meta)) return { error: `run_start.meta must be an object, got ${describe(v.meta)}` };
    msg.meta = v.meta;
  }
  return withSeq(msg, v);
}

function validateStep(v: Record<string, unknown>, limits: ValidationLimits): Result<StepMessage> {
  const runId = requireRunId(v, limits);
  if (typeof runId !== 'string') return runId;
  if (!isSafeInteger(v.step) || v.step < 0) return { error: `step.step must be an integer >= 0, got ${describe(v.step)}` };
  const total = toNumber(v.total_norm);
  if (total === undefined) return { error: `step.total_norm must be a number (or "NaN"/"Infinity"/"-Infinity"), got ${describe(v.total_norm)}` };
  const msg: StepMessage = { type: 'step', run_id: runId, step: v.step, total_norm: total };
  if (v.layer_norms !== undefined && v.layer_norms !== null) {
    if (!Array.isArray(v.layer_norms)) return { error: `step.layer_norms must be an array of numbers, got ${describe(v.layer_norms)}` };
    if (v.layer_norms.length > limits.maxLayers) return { error: `step.layer_norms has ${v.layer_norms.length} values, the limit is ${limits.maxLayers}` };
    const norms = new Array<number>(v.layer_norms.length);
    for (let i = 0; i < v.layer_norms.length; i++) {
      const n = toNumber(v.layer_norms[i]);
      if (n === undefined) return { error: `step.layer_norms[${i}] must be a number, got ${describe(v.layer_norms[i])}` };
      norms[i] = n;
    }
    msg.layer_norms = norms;
  }
  for (const key of ['loss', 'lr', 'time'] as const) {
    const raw = v[key];
    if (raw === undefined || raw === null) continue;
    const n = toNumber(raw);
    if (n === undefined) return { error: `step.${key} must be a number, got ${describe(raw)}` };
    msg[key] = n;
  }
  for (const key of ['clipped', 'skipped'] as const) {
    const raw = v[key];
    if (raw === undefined || raw === null) continue;
    if (typeof raw !== 'boolean') return { error: `step.${key} must be true or false, got ${describe(raw)}` };
    msg[key] = raw;
  }
  if (v.rank !== undefined && v.rank !== null) {
    if (!isSafeInteger(v.rank) || v.rank < 0 || v.rank > 1_000_000) return { error: `step.rank must be an integer in 0..1000000, got ${describe(v.rank)}` };
    msg.rank = v.rank;
  }
  return withSeq(msg, v);
}

function validateRunEnd(v: Record<string, unknown>, limits: ValidationLimits): Result<RunEndMessage> {
  const runId = requireRunId(v, limits);
  if (typeof runId !== 'string') return runId;
  if (!RUN_STATUSES.includes(v.status as RunStatus)) {
    return { error: `run_end.status must be one of ${RUN_STATUSES.join(', ')}, got ${describe(v.status)}` };
  }
  const msg: RunEndMessage = { type: 'run_end', run_id: runId, status: v.status as RunStatus };
  if (v.message !== undefined && v.message !== null) {
    if (typeof v.message !== 'string') return { error: `run_end.message must be a string, got ${describe(v.message)}` };
    msg.message = v.message.slice(0, 16 * limits.maxStringLength);
  }
  return withSeq(msg, v);
}

function requireRunId(v: Record<string, unknown>, limits: ValidationLimits): string | { error: string } {
  const id = v.run_id;
  const type = String(v.type);
  if (typeof id !== 'string' || id.length === 0) return { error: `${type}.run_id must be a non-empty string, got ${describe(id)}` };
  if (id.length > limits.maxStringLength) return { error: `${type}.run_id is ${id.length} characters long, the limit is ${limits.maxStringLength}` };
  return id;
}

function withSeq<T extends ClientMessage>(msg: T, v: Record<string, unknown>): Result<T> {
  if (v.seq === undefined || v.seq === null) return { ok: msg };
  if (!isSafeInteger(v.seq) || v.seq < 0) return { error: `${msg.type}.seq must be an integer >= 0, got ${describe(v.seq)}` };
  msg.seq = v.seq;
  return { ok: msg };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isSafeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function clip(s: string): string {
  return s.length > 64 ? s.slice(0, 64) + '…' : s;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(clip(v))}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v).slice(0, 64)}`;
}
