/** fast-check generators for protocol messages, hostile frames and Python-style JSON, shared by the fuzz tests. */
import fc from 'fast-check';
import { ClientMessage, FRAMEWORKS, RUN_STATUSES } from '../../src/protocol/messages';

/** Numbers as clients send them: any double, non-finite and negative zero included. */
export const anyNumber = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0, 1e308, -1e-308));

/** Strings built from the pieces that trip NaN-token scanners: tokens, quotes, backslashes, commas. */
export const trickyString = fc
  .array(
    fc.constantFrom(
      'NaN',
      'Infinity',
      '-Infinity',
      '\\',
      '"',
      '\\"',
      '\\\\',
      'x',
      ' ',
      ',',
      ':',
      '[',
      '{',
      '\u2028',
      '\u0000',
      '𝔑',
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

const runId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  trickyString.filter((s) => s.length > 0 && s.length <= 1024),
);

export const validStep = fc.record(
  {
    type: fc.constant('step' as const),
    run_id: runId,
    step: fc.oneof(fc.nat(1_000_000), fc.maxSafeNat()),
    total_norm: anyNumber,
    layer_norms: fc.array(anyNumber, { maxLength: 8 }),
    loss: anyNumber,
    lr: anyNumber,
    time: anyNumber,
    clipped: fc.boolean(),
    skipped: fc.boolean(),
    rank: fc.nat(1_000_000),
    seq: fc.maxSafeNat(),
  },
  { requiredKeys: ['type', 'run_id', 'step', 'total_norm'] },
);

export const validRunStart = fc.record(
  {
    type: fc.constant('run_start' as const),
    run_id: runId,
    name: fc.string({ maxLength: 40 }),
    framework: fc.constantFrom(...FRAMEWORKS),
    layers: fc.array(fc.string({ maxLength: 20 }), { maxLength: 8 }),
    threshold: fc.double({ min: Number.MIN_VALUE, noNaN: true }),
    meta: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), {
      maxKeys: 5,
      noNullPrototype: true,
    }),
    seq: fc.maxSafeNat(),
  },
  { requiredKeys: ['type', 'run_id'] },
);

export const validRunEnd = fc.record(
  {
    type: fc.constant('run_end' as const),
    run_id: runId,
    status: fc.constantFrom(...RUN_STATUSES),
    message: fc.string({ maxLength: 40 }),
    seq: fc.maxSafeNat(),
  },
  { requiredKeys: ['type', 'run_id', 'status'] },
);

export const validMessage: fc.Arbitrary<ClientMessage> = fc.oneof(
  validStep,
  validRunStart,
  validRunEnd,
) as fc.Arbitrary<ClientMessage>;

/** Items that must be refused: wrong types in required fields, unknown types, non-objects. */
export const invalidItem: fc.Arbitrary<unknown> = fc.oneof(
  validStep.chain((m) => fc.constantFrom(-1, 1.5, '3', null, [], {}, 2 ** 53, true).map((step) => ({ ...m, step }))),
  validStep.chain((m) =>
    fc.constantFrom('1', null, [], {}, true, 'nan', 'inf').map((total_norm) => ({ ...m, total_norm })),
  ),
  validStep.chain((m) => fc.constantFrom(['x'], [null], 'NaN', 3, [[1]]).map((layer_norms) => ({ ...m, layer_norms }))),
  validMessage.chain((m) => fc.constantFrom(-1, 0.5, '1', true, 2 ** 60).map((seq) => ({ ...m, seq }))),
  validMessage.chain((m) => fc.constantFrom('', 7, null, ['r'], {}).map((run_id) => ({ ...m, run_id }))),
  validRunEnd.chain((m) => fc.constantFrom('done', '', null, 1).map((status) => ({ ...m, status }))),
  fc
    .string()
    .filter((t) => t !== 'step' && t !== 'run_start' && t !== 'run_end')
    .map((type) => ({ type, run_id: 'r' })),
  fc.oneof(
    fc.string(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  ),
);

/**
 * JSON as Python's json.dumps writes it: non-finite numbers as bare NaN/Infinity/-Infinity tokens
 * (or, when `asStrings`, as the string forms other clients send).
 */
export function pythonDumps(value: unknown, asStrings = false): string {
  const mark = '\u0001nonfinite\u0001'; // control characters: JSON escapes them, so no generated string can forge the mark
  const text = JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? `${mark}${v}` : v,
  );
  const quoted = /"\\u0001nonfinite\\u0001(NaN|Infinity|-Infinity)"/g;
  return text.replace(quoted, asStrings ? '"$1"' : '$1');
}

/** A canonical text for comparing decoded messages: sorted keys, non-finite as names, -0 as 0. */
export function canonical(value: unknown): string {
  const norm = (v: unknown): unknown => {
    if (typeof v === 'number') return Number.isFinite(v) ? (Object.is(v, -0) ? 0 : v) : String(v);
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) out[k] = norm((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  return JSON.stringify(norm(value));
}

/** Random edits of a frame's text: characters that matter to JSON and the NaN scanner, cuts and splices. */
export const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    text: fc.constantFrom(
      '"',
      '\\',
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      'N',
      'NaN',
      'Infinity',
      '-',
      '0',
      'e',
      '.',
      '\u0000',
      '\uD800',
      '💥',
    ),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom('NaN', '-Infinity', '"NaN"', 'nan', '1e999', '-0', 'null', '[]', '{}'),
      fc.string({ maxLength: 4 }),
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.nat(16) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

export type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

export function mutate(text: string, edits: readonly Mutation[]): string {
  let t = text;
  for (const e of edits) {
    const at = t.length === 0 ? 0 : e.at % (t.length + 1);
    if (e.kind === 'replace') t = t.slice(0, at) + e.text + t.slice(at + 1);
    else if (e.kind === 'insert') t = t.slice(0, at) + e.text + t.slice(at);
    else if (e.kind === 'delete') t = t.slice(0, at) + t.slice(at + e.length);
    else t = t.slice(0, at);
  }
  return t;
}
