/**
 * The Event wire reader against protobufjs' reflective decoder of the same schema, on events built
 * by the spec-only writer of test/helpers: same scalars, same tags, same step and wall time, and a
 * clear error (never a wrong value) for cut-off bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { maskedCrc32c } from '../../src/importers/tensorboard/crc';
import { decodeEvent, stepNumber, SummaryValue } from '../../src/importers/tensorboard/eventSchema';
import { EventWireReader, ScalarVisitor } from '../../src/importers/tensorboard/eventWire';
import { encodeEvent, EventSpec, maskedCrc, ValueSpec } from '../helpers/tfeventsWriter';

interface Seen {
  tag: string;
  value: number | SummaryValue;
  step: number;
  wallTime: number;
}

function readAll(reader: EventWireReader, bytes: Uint8Array, start = 0, end = bytes.length) {
  const seen: Seen[] = [];
  let version: string | undefined;
  const visitor: ScalarVisitor = {
    scalar: (tag, value, step, wallTime) => seen.push({ tag: reader.tags[tag], value, step, wallTime }),
    fileVersion: (v) => (version = v),
  };
  reader.read(bytes, start, end, visitor);
  return { seen, version };
}

/** What protobufjs makes of the same bytes, in the reader's terms. */
function expected(bytes: Uint8Array): { seen: Seen[]; version: string | undefined } {
  const e = decodeEvent(bytes);
  const step = stepNumber(e.step);
  const seen: Seen[] = [];
  for (const v of e.summary?.value ?? []) {
    const simpleOnly = v.value === 'simple_value' && !v.metadata;
    if (simpleOnly) seen.push({ tag: v.tag, value: v.simple_value, step, wallTime: e.wall_time });
    else if (v.value !== undefined || v.metadata) seen.push({ tag: v.tag, value: v, step, wallTime: e.wall_time });
  }
  return { seen, version: e.file_version || undefined };
}

const tagPool = ['train/grad_norm', 'train/loss', 'grad_norm/enc.0', 'grad_norm/enc.1', 'lr', '', 'ünïcode/→norm'];

const valueArb: fc.Arbitrary<ValueSpec> = fc.oneof(
  fc.record({ tag: fc.constantFrom(...tagPool), simple: fc.float({ noDefaultInfinity: false }) }),
  fc.record({ tag: fc.string({ maxLength: 12 }), simple: fc.float() }),
  fc.record({
    tag: fc.constantFrom(...tagPool),
    tensor: fc.record({ dtype: fc.constant(1), floatVal: fc.array(fc.float(), { minLength: 1, maxLength: 2 }) }),
    plugin: fc.constant('scalars'),
  }),
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
    if (typeof y.value === 'number') assert.ok(Object.is(x.value, y.value), `${String(x.value)} vs ${y.value}`);
    else assert.deepEqual(x.value, y.value);
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
  assert.deepEqual(seen, [{ tag: 'train/grad_norm', value: 2.5, step: 99, wallTime: 11 }]);
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
