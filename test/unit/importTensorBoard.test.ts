import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { maskedCrc32c } from '../../src/importers/tensorboard/crc';
import { bfloat16ToNumber, halfToNumber } from '../../src/importers/tensorboard/scalars';
import { classifyGradNormTag } from '../../src/importers/metricKeys';
import { collect, tempDir } from '../helpers/logFiles';
import {
  DT_BFLOAT16,
  DT_DOUBLE,
  DT_FLOAT,
  DT_HALF,
  encodeEvent,
  EventSpec,
  eventFile,
  frameRecord,
  maskedCrc,
  toHalfBits,
} from '../helpers/tfeventsWriter';

const dir = tempDir();
let fileNo = 0;

function writeEvents(events: EventSpec[] | Buffer, runDir = 'run'): string {
  const file = path.join(dir, `${runDir}-${fileNo++}`, 'events.out.tfevents.1700000000.host.1234.0');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, Buffer.isBuffer(events) ? events : eventFile(events));
  return file;
}

const f32 = (v: number): Buffer => Buffer.from(new Float32Array([v]).buffer);

/** PyTorch SummaryWriter.add_scalar style: one event per tag and step, simple_value. */
function pytorchStyle(steps: number, layers: string[]): EventSpec[] {
  const events: EventSpec[] = [];
  for (let s = 0; s < steps; s++) {
    events.push({ step: s, values: [{ tag: 'train/grad_norm', simple: 1 + s / 4 }] });
    layers.forEach((l, i) => events.push({ step: s, values: [{ tag: `grad_norm/${l}`, simple: (i + 1) / 8 }] }));
    events.push({ step: s, values: [{ tag: 'train/loss', simple: 3 }] });
  }
  return events;
}

test('masked CRC32C matches the reference vector and a bit-by-bit implementation', () => {
  const crc = 0xe3069283; // CRC32C("123456789"), RFC 3720
  assert.equal(maskedCrc32c(Buffer.from('123456789')), (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (data) => maskedCrc32c(data) === maskedCrc(data)));
});

test('tags: grad+norm names a total or, with a path after it, a layer', () => {
  assert.deepEqual(classifyGradNormTag('train/grad_norm'), { role: 'total' });
  assert.deepEqual(classifyGradNormTag('grad_2.0_norm_total'), { role: 'total' });
  assert.deepEqual(classifyGradNormTag('gradients/global_norm'), { role: 'total' });
  assert.deepEqual(classifyGradNormTag('grad_norm/total'), { role: 'total' });
  assert.deepEqual(classifyGradNormTag('grad_norm/encoder.0/attn'), { role: 'layer', layer: 'encoder.0/attn' });
  assert.deepEqual(classifyGradNormTag('Grad_2.0_Norm/fc.weight'), { role: 'layer', layer: 'fc.weight' });
  assert.equal(classifyGradNormTag('train/loss'), undefined);
  assert.equal(classifyGradNormTag('weight_norm'), undefined);
});

test('PyTorch-style simple_value events: total, per-layer norms and wall time per step', async () => {
  const file = writeEvents(pytorchStyle(5, ['embed', 'head']), 'resnet');
  const { messages, steps, result } = await collect(file);
  assert.equal(result.format, 'tensorboard');
  assert.deepEqual(result.problems, []);
  const start = messages[0];
  assert.match(start.type === 'run_start' ? (start.name ?? '') : '', /^resnet/);
  assert.deepEqual(start.type === 'run_start' && start.layers, ['embed', 'head']);
  assert.equal(start.type === 'run_start' && start.meta?.file_version, 'brain.Event:2');
  assert.deepEqual(
    steps.map((s) => [s.step, s.total_norm, s.layer_norms, s.time]),
    [0, 1, 2, 3, 4].map((s) => [s, 1 + s / 4, [0.125, 0.25], 1_700_000_000 + s]),
  );
  assert.deepEqual(messages.at(-1), { type: 'run_end', run_id: start.run_id, status: 'completed' });
});

test('TF2-style tensors: tensor_content, float_val, double_val, half_val (packed or not), bfloat16; histograms and vectors ignored', async () => {
  const half = toHalfBits(0.5);
  const cases: [EventSpec['values'], number][] = [
    [[{ tag: 'grad_norm', tensor: { dtype: DT_FLOAT, content: f32(1.5) }, plugin: 'scalars' }], 1.5],
    [[{ tag: 'grad_norm', tensor: { dtype: DT_FLOAT, floatVal: [2.5] } }], 2.5],
    [[{ tag: 'grad_norm', tensor: { dtype: DT_FLOAT, floatVal: [3.5], packed: false } }], 3.5],
    [[{ tag: 'grad_norm', tensor: { dtype: DT_DOUBLE, doubleVal: [0.1] } }], 0.1],
    [[{ tag: 'grad_norm', tensor: { dtype: DT_DOUBLE, content: Buffer.from(new Float64Array([0.2]).buffer) } }], 0.2],
    [[{ tag: 'grad_norm', tensor: { dtype: DT_HALF, halfVal: [half] } }], 0.5],
    [
      [
        {
          tag: 'grad_norm',
          tensor: { dtype: DT_HALF, content: Buffer.from(new Uint16Array([toHalfBits(-2)]).buffer) },
        },
      ],
      -2,
    ],
    [
      [{ tag: 'grad_norm', tensor: { dtype: DT_BFLOAT16, content: Buffer.from(new Uint16Array([0x3fc0]).buffer) } }],
      1.5,
    ],
    [[{ tag: 'grad_norm', tensor: { dtype: DT_FLOAT, content: f32(NaN) }, plugin: 'scalars' }], NaN],
  ];
  const events: EventSpec[] = cases.map(([values], step) => ({ step, values }));
  // Not scalars: a histogram carried as a tensor, and a two-element vector.
  events.push({
    step: 100,
    values: [{ tag: 'grad_norm', tensor: { dtype: DT_FLOAT, content: f32(9) }, plugin: 'histograms' }],
  });
  events.push({ step: 101, values: [{ tag: 'grad_norm', tensor: { dtype: DT_FLOAT, floatVal: [1, 2] } }] });
  const { steps } = await collect(writeEvents(events));
  assert.deepEqual(
    steps.map((s) => s.step),
    cases.map((_, i) => i),
  );
  steps.forEach((s, i) => {
    const expected = cases[i][1];
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(s.total_norm));
    else assert.ok(Math.abs(s.total_norm! - expected) < 1e-6, `step ${i}: ${s.total_norm} vs ${expected}`);
  });
});

test('half and bfloat16 decoding covers subnormals, infinities and NaN', () => {
  assert.equal(halfToNumber(0x0001), 2 ** -24);
  assert.equal(halfToNumber(0x7bff), 65504);
  assert.equal(halfToNumber(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToNumber(0x7e00)));
  assert.equal(bfloat16ToNumber(0x7f80), Infinity);
  assert.equal(bfloat16ToNumber(0xc000), -2);
});

test('a record whose data fails its CRC is skipped and named by offset; reading goes on', async () => {
  const good = eventFile(pytorchStyle(4, []));
  // Records: file_version, then (grad_norm, loss) per step. Corrupt the grad_norm record of step 2.
  const offsets = recordOffsets(good);
  const target = offsets[1 + 2 * 2];
  const damaged = Buffer.from(good);
  damaged[target + 12 + 3] ^= 0xff;
  const { steps, result, messages } = await collect(writeEvents(damaged));
  assert.deepEqual(
    steps.map((s) => s.step),
    [0, 1, 3],
  );
  assert.deepEqual(result.problems, [{ offset: target, message: 'record data CRC mismatch; the record was skipped' }]);
  assert.deepEqual(messages.at(-1), { type: 'run_end', run_id: messages[0].run_id, status: 'completed' });
});

test('a bad length CRC stops reading there; everything before is kept and the run ends as interrupted', async () => {
  const good = eventFile(pytorchStyle(4, []));
  const target = recordOffsets(good)[1 + 2 * 2];
  const damaged = Buffer.from(good);
  damaged[target] ^= 0x01;
  const { steps, result, messages } = await collect(writeEvents(damaged));
  assert.deepEqual(
    steps.map((s) => s.step),
    [0, 1],
  );
  assert.deepEqual(result.problems, [
    {
      offset: target,
      message: 'corrupt record header (length CRC mismatch); nothing after it can be read',
      fatal: true,
    },
  ]);
  assert.deepEqual(messages.at(-1), {
    type: 'run_end',
    run_id: messages[0].run_id,
    status: 'interrupted',
    message: `event file ends in a damaged record at byte ${target}`,
  });
});

test('a file cut inside a record or inside a header keeps what precedes it', async () => {
  const good = eventFile(pytorchStyle(3, []));
  const last = recordOffsets(good).at(-1)!;
  for (const [cut, pattern] of [
    [good.length - 2, /^truncated record: it needs \d+ data bytes but the file ends \d+ bytes after its header/],
    [last + 5, /^truncated record header: the file ends 5 bytes into it/],
  ] as const) {
    const { steps, result } = await collect(writeEvents(good.subarray(0, cut)));
    assert.deepEqual(
      steps.map((s) => s.step),
      [0, 1, 2],
      'the last record is a loss value, so every norm survives',
    );
    assert.equal(result.problems.length, 1);
    assert.equal(result.problems[0].offset, last);
    assert.equal(result.problems[0].fatal, true);
    assert.match(result.problems[0].message, pattern);
  }
});

test('a sound record that is not an Event protobuf is reported and skipped', async () => {
  const file = Buffer.concat([
    eventFile(pytorchStyle(1, [])),
    frameRecord(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])),
    frameRecord(encodeEvent({ step: 1, values: [{ tag: 'train/grad_norm', simple: 2 }] })),
  ]);
  const { steps, result } = await collect(writeEvents(file));
  assert.deepEqual(
    steps.map((s) => s.step),
    [0, 1],
  );
  assert.equal(result.problems.length, 1);
  assert.match(result.problems[0].message, /^not a valid Event protobuf/);
});

test('only per-layer tags: the total is their L2 norm, steps missing a layer are left out', async () => {
  const events: EventSpec[] = [
    {
      step: 0,
      values: [
        { tag: 'grad_norm/a', simple: 3 },
        { tag: 'grad_norm/b', simple: 4 },
      ],
    },
    { step: 1, values: [{ tag: 'grad_norm/a', simple: 1 }] },
  ];
  const { steps, result } = await collect(writeEvents(events));
  assert.deepEqual(
    steps.map((s) => [s.step, s.total_norm, s.layer_norms]),
    [[0, 5, [3, 4]]],
  );
  assert.match(result.notes.join('\n'), /no total-norm tag/);
  assert.match(result.notes.join('\n'), /1 steps without a value for every layer/);
});

test('steps out of order and logged twice: ordered by step, the last value wins', async () => {
  const events: EventSpec[] = [5, 3, 4, 3].map((step, i) => ({ step, values: [{ tag: 'grad_norm', simple: i }] }));
  events.push({ step: 2 ** 40, values: [{ tag: 'grad_norm', simple: 7 }] }); // int64 steps beyond 32 bits
  const { steps } = await collect(writeEvents(events));
  assert.deepEqual(
    steps.map((s) => [s.step, s.total_norm]),
    [
      [3, 3],
      [4, 2],
      [5, 0],
      [2 ** 40, 7],
    ],
  );
});

test('no gradient-norm tag: the problem names the tags that are there', async () => {
  const { steps, result } = await collect(
    writeEvents([
      {
        step: 0,
        values: [
          { tag: 'loss', simple: 1 },
          { tag: 'accuracy', simple: 0.5 },
        ],
      },
    ]),
  );
  assert.equal(steps.length, 0);
  assert.deepEqual(result.problems, [
    {
      message:
        'no scalar tag names a gradient norm: none contains both "grad" and "norm" (scalar tags found: "loss", "accuracy")',
    },
  ]);
});

test('big files: records larger than a read chunk and many records across chunk boundaries', async () => {
  const huge = {
    step: 0,
    values: [
      { tag: 'grad_norm/hist', tensor: { dtype: DT_FLOAT, content: Buffer.alloc(3 << 20, 1) }, plugin: 'histograms' },
    ],
  };
  const events: EventSpec[] = [huge];
  for (let s = 0; s < 40_000; s++) events.push({ step: s, values: [{ tag: 'grad_norm', simple: s % 7 }] });
  const { steps, result } = await collect(writeEvents(events));
  assert.deepEqual(result.problems, []);
  assert.equal(steps.length, 40_000);
  assert.equal(steps[39_999].total_norm, 39_999 % 7);
  assert.ok(result.bytes > 4 << 20);
});

/** Byte offsets of the records in an event file. */
function recordOffsets(file: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at < file.length; at += 16 + Number(file.readBigUInt64LE(at))) out.push(at);
  return out;
}
