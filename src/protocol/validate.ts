/** Validation of decoded frames into typed messages. Hostile input yields errors, never exceptions. */
import { NONFINITE_PHASES, NonfiniteOrigin, NonfinitePhase } from '../shared/nonfiniteOrigin';
import { FrameElement, LogLine, splitFrame } from './frame';
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
  /** run_start.meta as JSON, in characters, and its nesting depth (the log must be able to write it back). */
  maxMetaChars: number;
  maxMetaDepth: number;
}

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = {
  maxBatch: 100_000,
  maxLayers: 10_000,
  maxStringLength: 1024,
  maxMetaChars: 64 * 1024,
  maxMetaDepth: 32,
};

export interface DecodedFrame {
  messages: ClientMessage[];
  /**
   * For each message, its text as sent when that can be recorded verbatim (see frame.ts): the
   * frame's own bytes when it is plain ASCII (nothing to encode again), else a string.
   */
  verbatim: (LogLine | undefined)[];
  errors: ErrorMessage[];
}

type Result<T> = { ok: T } | { error: string };

/** `bytes`, when given, is the frame as received, whose text is `text`. */
export function decodeFrame(text: string, overrides: Partial<ValidationLimits> = {}, bytes?: Uint8Array): DecodedFrame {
  const limits = { ...DEFAULT_VALIDATION_LIMITS, ...overrides };
  const frame = splitFrame(text);
  if (frame === undefined) return decodeWhole(text, limits);
  const { elements, batched } = frame;
  if (elements.length > limits.maxBatch) return tooMany(elements.length, limits);
  const parsed = elements.map(parseElement);
  // Lines that do not parse may be one pretty-printed message spread over several lines.
  if (frame.lines && parsed.some((p) => 'error' in p) && parsesWhole(text)) return decodeWhole(text, limits);
  // One byte per character means ASCII: character offsets are byte offsets.
  const ascii = bytes !== undefined && bytes.length === text.length ? bytes : undefined;
  const out: DecodedFrame = { messages: [], verbatim: [], errors: [] };
  for (let i = 0; i < elements.length; i++) {
    const p = parsed[i];
    if ('error' in p) {
      const error: ErrorMessage = {
        type: 'error',
        code: 'bad_json',
        message: `${batched ? `message ${i}` : 'frame'} is not valid JSON: ${p.error}`,
      };
      if (batched) error.index = i;
      out.errors.push(error);
      continue;
    }
    const e = elements[i];
    const line =
      !e.verbatim || p.rewritten ? undefined : ascii ? ascii.subarray(e.start, e.start + e.text.length) : e.text;
    collect(out, p.ok, i, batched, limits, line);
  }
  return out;
}

/**
 * Parses one message's text. Bare NaN/Infinity tokens (Python's json.dumps) fail the native parse
 * and are quoted first; such a text is `rewritten`, and the log spells its tokens as strings.
 */
function parseElement(e: FrameElement): { ok: unknown; rewritten: boolean } | { error: string } {
  try {
    return { ok: JSON.parse(e.text), rewritten: false };
  } catch (err) {
    const quoted = quoteBareNonFinite(e.text);
    if (quoted !== undefined) {
      try {
        return { ok: JSON.parse(quoted), rewritten: true };
      } catch {
        // fall through: report the original error
      }
    }
    return { error: (err as Error).message };
  }
}

function parsesWhole(text: string): boolean {
  try {
    parseJsonAllowingNonFinite(text);
    return true;
  } catch {
    return false;
  }
}

/** Frames the splitter cannot read as an object or an array of them: parse whole for a precise error. */
function decodeWhole(text: string, limits: ValidationLimits): DecodedFrame {
  let raw: unknown;
  try {
    raw = parseJsonAllowingNonFinite(text);
  } catch (e) {
    return {
      messages: [],
      verbatim: [],
      errors: [{ type: 'error', code: 'bad_json', message: `frame is not valid JSON: ${(e as Error).message}` }],
    };
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
    errors: [
      {
        type: 'error',
        code: 'too_many_messages',
        message: `a frame may hold at most ${limits.maxBatch} messages, this one holds ${n}`,
      },
    ],
  };
}

function collect(
  out: DecodedFrame,
  item: unknown,
  index: number,
  batched: boolean,
  limits: ValidationLimits,
  verbatim: LogLine | undefined,
): void {
  const result = validate(item, limits);
  if ('ok' in result) {
    out.messages.push(result.ok);
    out.verbatim.push(verbatim);
    return;
  }
  const error: ErrorMessage = {
    type: 'error',
    code: result.error.startsWith('unknown message type') ? 'unknown_type' : 'bad_message',
    message: result.error,
  };
  if (batched) error.index = index;
  if (isRecord(item)) {
    if (typeof item.run_id === 'string') error.run_id = item.run_id;
    if (isSafeInteger(item.seq)) error.seq = item.seq;
  }
  out.errors.push(error);
}

export function validateMessage(value: unknown, overrides: Partial<ValidationLimits> = {}): Result<ClientMessage> {
  return validate(value, { ...DEFAULT_VALIDATION_LIMITS, ...overrides });
}

function validate(value: unknown, limits: ValidationLimits): Result<ClientMessage> {
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
    if (!Array.isArray(v.layers))
      return { error: `run_start.layers must be an array of strings, got ${describe(v.layers)}` };
    if (v.layers.length > limits.maxLayers)
      return { error: `run_start.layers has ${v.layers.length} entries, the limit is ${limits.maxLayers}` };
    const layers: string[] = [];
    for (let i = 0; i < v.layers.length; i++) {
      const layer = v.layers[i];
      if (typeof layer !== 'string')
        return { error: `run_start.layers[${i}] must be a string, got ${describe(layer)}` };
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
    const depth = depthOver(v.meta, limits.maxMetaDepth);
    if (depth) return { error: `run_start.meta is nested more than ${limits.maxMetaDepth} levels deep` };
    const chars = JSON.stringify(v.meta).length;
    if (chars > limits.maxMetaChars)
      return { error: `run_start.meta is ${chars} characters as JSON, the limit is ${limits.maxMetaChars}` };
    msg.meta = v.meta;
  }
  return withSeq(msg, v);
}

function validateStep(v: Record<string, unknown>, limits: ValidationLimits): Result<StepMessage> {
  const runId = requireRunId(v, limits);
  if (typeof runId !== 'string') return runId;
  if (!isSafeInteger(v.step) || v.step < 0)
    return { error: `step.step must be an integer >= 0, got ${describe(v.step)}` };
  const msg: StepMessage = { type: 'step', run_id: runId, step: v.step };
  // Absent means "not measured" (a log that kept only the loss); any value given must be a number.
  const measured = v.total_norm !== undefined || !(isPresent(v.loss) || isPresent(v.lr));
  if (measured) {
    const total = toNumber(v.total_norm);
    if (total === undefined)
      return {
        error: `step.total_norm must be a number (or "NaN"/"Infinity"/"-Infinity"), got ${describe(v.total_norm)}`,
      };
    msg.total_norm = total;
  } else if (isPresent(v.layer_norms)) return { error: 'step.layer_norms needs a step.total_norm' };
  if (v.layer_norms !== undefined && v.layer_norms !== null) {
    if (!Array.isArray(v.layer_norms))
      return { error: `step.layer_norms must be an array of numbers, got ${describe(v.layer_norms)}` };
    if (v.layer_norms.length > limits.maxLayers)
      return { error: `step.layer_norms has ${v.layer_norms.length} values, the limit is ${limits.maxLayers}` };
    const norms = numbers(v.layer_norms);
    if (typeof norms === 'number')
      return { error: `step.layer_norms[${norms}] must be a number, got ${describe(v.layer_norms[norms])}` };
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
  if (v.skip_reason !== undefined && v.skip_reason !== null) {
    if (typeof v.skip_reason !== 'string')
      return { error: `step.skip_reason must be a string, got ${describe(v.skip_reason)}` };
    msg.skip_reason = v.skip_reason.slice(0, limits.maxStringLength);
  }
  if (v.nonfinite_origin !== undefined && v.nonfinite_origin !== null) {
    const origin = validateOrigin(v.nonfinite_origin, limits.maxStringLength);
    if ('error' in origin) return origin;
    msg.nonfinite_origin = origin.ok;
  }
  if (v.rank !== undefined && v.rank !== null) {
    if (!isSafeInteger(v.rank) || v.rank < 0 || v.rank > 1_000_000)
      return { error: `step.rank must be an integer in 0..1000000, got ${describe(v.rank)}` };
    msg.rank = v.rank;
  }
  return withSeq(msg, v);
}

const ORIGIN = 'step.nonfinite_origin';
/** Source and snapshot paths may be longer than names. */
const MAX_PATH_LENGTH = 4096;

/** Unknown fields of the origin are ignored, as everywhere in the protocol; strings are cut to their limit. */
function validateOrigin(v: unknown, maxStringLength: number): Result<NonfiniteOrigin> {
  if (!isRecord(v)) return { error: `${ORIGIN} must be an object, got ${describe(v)}` };
  if (!NONFINITE_PHASES.includes(v.phase as NonfinitePhase))
    return { error: `${ORIGIN}.phase must be one of ${NONFINITE_PHASES.join(', ')}, got ${describe(v.phase)}` };
  const out: NonfiniteOrigin = { phase: v.phase as NonfinitePhase };
  const strings = [
    ['module', maxStringLength],
    ['class', maxStringLength],
    ['leaf', maxStringLength],
    ['file', MAX_PATH_LENGTH],
    ['snapshot', MAX_PATH_LENGTH],
  ] as const;
  for (const [key, limit] of strings) {
    const raw = v[key];
    if (raw === undefined || raw === null) continue;
    if (typeof raw !== 'string') return { error: `${ORIGIN}.${key} must be a string, got ${describe(raw)}` };
    out[key] = raw.slice(0, limit);
  }
  if (v.line !== undefined && v.line !== null) {
    if (!isSafeInteger(v.line) || v.line < 1)
      return { error: `${ORIGIN}.line must be an integer >= 1, got ${describe(v.line)}` };
    out.line = v.line;
  }
  for (const key of ['value', 'input_min', 'input_max'] as const) {
    const raw = v[key];
    if (raw === undefined || raw === null) continue;
    const n = toNumber(raw);
    if (n === undefined)
      return { error: `${ORIGIN}.${key} must be a number (or "NaN"/"Infinity"/"-Infinity"), got ${describe(raw)}` };
    out[key] = n;
  }
  return { ok: out };
}

/**
 * The array as numbers, or the index of the first element that is none. An array of plain numbers
 * (the usual case) is returned as it is; one with non-finite strings is copied, never changed.
 */
function numbers(values: unknown[]): number[] | number {
  let i = 0;
  while (i < values.length && typeof values[i] === 'number') i++;
  if (i === values.length) return values as number[];
  const out = values.slice(0, i) as number[];
  for (; i < values.length; i++) {
    const n = toNumber(values[i]);
    if (n === undefined) return i;
    out.push(n);
  }
  return out;
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
  if (typeof id !== 'string' || id.length === 0)
    return { error: `${type}.run_id must be a non-empty string, got ${describe(id)}` };
  if (id.length > limits.maxStringLength)
    return { error: `${type}.run_id is ${id.length} characters long, the limit is ${limits.maxStringLength}` };
  return id;
}

function withSeq<T extends ClientMessage>(msg: T, v: Record<string, unknown>): Result<T> {
  if (v.seq === undefined || v.seq === null) return { ok: msg };
  if (!isSafeInteger(v.seq) || v.seq < 0)
    return { error: `${msg.type}.seq must be an integer >= 0, got ${describe(v.seq)}` };
  msg.seq = v.seq;
  return { ok: msg };
}

/** True when value nests deeper than maxDepth; iterative, so hostile depth cannot overflow the stack. */
function depthOver(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > maxDepth) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function isPresent(v: unknown): boolean {
  return v !== undefined && v !== null;
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
