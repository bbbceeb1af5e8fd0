/**
 * The Event wire reader against protobufjs' reflective decoder of the same schema, on events built
 * by the spec-only writer of test/helpers: same scalars, same tags, same step and wall time, and a
 * clear error (never a wrong value) for cut-off bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { maskedCrc32c } from '../../src/importers/tensorboard/crc';
import { decodeEvent, stepNumber } from '../../src/importers/tensorboard/eventSchema';
import { EventWireReader, ScalarKind, ScalarVisitor } from '../../src/importers/tensorboard/eventWire';
import { scalarKind, scalarValue } from '../../src/importers/tensorboard/scalars';
import {
  DT_BFLOAT16,
  DT_DOUBLE,
  DT_FLOAT,
  DT_HALF,
  encodeEvent,
  EventSpec,
  maskedCrc,
  TensorSpec,
  ValueSpec,
} from '../helpers/tfeventsWriter';

interface Seen {
  tag: string;
  value: number;
  kind: ScalarKind;
  step: number;
  wallTime: number;
}

function readAll(reader: EventWireReader, bytes: Uint8Array, start = 0, end = bytes.length) {
  const seen: Seen[] = [];
  let version: string | undefined;
  const visitor: ScalarVisitor = {
    scalar: (tag, value, kind, step, wallTime) => seen.push({ tag: reader.tags[tag], value, kind, step, wallTime }),
    fileVersion: (v) => (version = v),
  };
  reader.read(bytes, start, end, visitor);
  return { seen, version };
}

/** What protobufjs' reflective decoder makes of the same bytes, in the reader's terms. */
function expected(bytes: Uint8Array): { seen: Seen[]; version: string | undefined } {
  const e = decodeEvent(bytes);
  const step = stepNumber(e.step);
  const seen: Seen[] = [];
  for (const v of e.summary?.value ?? []) {
    const kind = scalarKind(v);
    const value = scalarValue(v);
    if (kind && value !== undefined) seen.push({ tag: v.tag, value, kind, step, wallTime: e.wall_time });
  }
  return { seen, version: e.file_version || undefined };
}

const bytesOf = (write: (b: Buffer) => void, n: number): Buffer => {
  const b = Buffer.alloc(n);
  write(b);
  return b;
};

/** Tensors as TF writes scalars (and some that are not scalars): raw content or typed lists, packed or not. */
const tensorArb: fc.Arbitrary<TensorSpec> = fc.oneof(
  fc.float().map((v) => ({ dtype: DT_FLOAT, content: bytesOf((b) => b.writeFloatLE(v), 4) })),
  fc.double().map((v) => ({ dtype: DT_DOUBLE, content: bytesOf((b) => b.writeDoubleLE(v), 8) })),
  fc
    .record({ dtype: fc.constantFrom(DT_HALF, DT_BFLOAT16), bits: fc.integer({ min: 0, max: 0xffff }) })
    .map(({ dtype, bits }) => ({ dtype, content: bytesOf((b) => b.writeUInt16LE(bits), 2) })),
  fc.record({
    dtype: fc.constantFrom(DT_FLOAT, DT_DOUBLE, DT_HALF, DT_BFLOAT16, 3),
    floatVal: fc.array(fc.float(), { maxLength: 2 }),
    doubleVal: fc.array(fc.double(), { maxLength: 2 }),
    halfVal: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 2 }),
    packed: fc.boolean(),
  }),
  fc.constant({ dtype: DT_FLOAT, content: Buffer.alloc(8) }), // two floats: not a scalar
);

const tagPool = ['train/grad_norm', 'train/loss', 'grad_norm/enc.0', 'grad_norm/enc.1', 'lr', '', 'ünïcode/→norm'];

const pluginArb = fc.option(fc.constantFrom('scalars', 'histograms', ''), { nil: undefined });

const valueArb: fc.Arbitrary<ValueSpec> = fc.oneof(
  fc.record({ tag: fc.constantFrom(...tagPool), simple: fc.float({ noDefaultInfinity: false }) }),
  fc.record({ tag: fc.string({ maxLength: 12 }), simple: fc.float(), plugin: pluginArb }),
  fc.record({ tag: fc.constantFrom(...tagPool), tensor: tensorArb, plugin: pluginArb }),
  fc.record({ tag: fc.constantFrom(...tagPool), simple: fc.float(), tensor: tensorArb }),
);

const eventArb: fc.Arbitrary<EventSpec> = fc.record({
  step: fc.oneof(fc.integer({ min: -5, max: 1 << 20 }), fc.maxSafeInteger(), fc.constant(2 ** 40 + 3)),
  wallTime: fc.double({ noNaN: true }),
  fileVersion: fc.option(fc.constant('brain.Event:2'), { nil: undefined }),
  values: fc.array(valueArb, { maxLength: 4 }),
});

/** Compares numbers by their bits, so NaN equals NaN. */
function sameScalars(a: Seen[], b: Seen[]): void {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => {
    const y = b[i];
    assert.equal(x.tag, y.tag);
    assert.ok(Object.is(x.step, y.step), `step ${x.step} vs ${y.step}`);
    assert.ok(Object.is(x.wallTime, y.wallTime));
    assert.equal(x.kind, y.kind);
    assert.ok(Object.is(x.value, y.value), `${x.value} vs ${y.value}`);
  });
}

test('every event reads as protobufjs decodes it, through one reader whose tags repeat in any order', () => {
  const reader = new EventWireReader();
  fc.assert(
    fc.property(fc.array(eventArb, { minLength: 1, maxLength: 8 }), (events) => {
      for (const spec of events) {
        const bytes = encodeEvent(spec);
        const got = readAll(reader, bytes);
        const want = expected(bytes);
        sameScalars(got.seen, want.seen);
        assert.equal(got.version, want.version);
      }
    }),
    { numRuns: 300 },
  );
});

test('an event read inside a larger buffer, and with its step after its summary, keeps the last step', () => {
  const summary = encodeEvent({ step: 1, wallTime: 10, values: [{ tag: 'train/grad_norm', simple: 2.5 }] });
  const laterStep = encodeEvent({ step: 99, wallTime: 11 });
  const bytes = Buffer.concat([Buffer.from([0xff, 0xff]), summary, laterStep, Buffer.from([0xff])]);
  const { seen } = readAll(new EventWireReader(), bytes, 2, bytes.length - 1);
  assert.deepEqual(seen, [{ tag: 'train/grad_norm', value: 2.5, kind: 'simple_value', step: 99, wallTime: 11 }]);
});

test('cut-off events throw a RangeError or read only what precedes the cut, never a wrong value', () => {
  fc.assert(
    fc.property(eventArb, fc.nat(), (spec, cutAt) => {
      const bytes = encodeEvent(spec);
      const cut = bytes.subarray(0, cutAt % (bytes.length + 1));
      const reader = new EventWireReader();
      let got;
      try {
        got = readAll(reader, cut);
      } catch (e) {
        assert.ok(e instanceof RangeError, String(e));
        return;
      }
      // A cut on a field boundary is a valid, shorter event.
      sameScalars(got.seen, expected(cut).seen);
    }),
    { numRuns: 300 },
  );
});

test('the masked CRC of a byte range equals that of the same bytes alone', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), (data, a, b) => {
      const start = a % (data.length + 1);
      const end = start + (b % (data.length - start + 1));
      assert.equal(maskedCrc32c(data, start, end), maskedCrc(data.subarray(start, end)));
    }),
  );
});
