import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runStartFor, syntheticSteps } from '../../src/cli/synthetic';
import { readLog } from '../../src/importers/readLog';
import { parseLogRange } from '../../src/logs/logRange';
import { ColumnsBuilder, ParsedLine, stepAt } from '../../src/logs/messageColumns';
import { PARALLEL_MIN_BYTES, ParallelReadOptions, readRunLogParallel } from '../../src/logs/parallelReader';
import { readRunLog, ReadSummary } from '../../src/logs/reader';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import { ClientMessage, StepMessage } from '../../src/protocol/messages';
import { loadRun } from '../../src/runs/loadRun';
import { tempDir } from '../helpers/logFiles';

const dir = tempDir();

/** Every kind of line a log can hold, good and bad, with lines longer than any range and the reader's probe. */
function awkwardLog(): string {
  const longMeta = 'x'.repeat(100 * 1024);
  const lines = [
    JSON.stringify({
      type: 'run_start',
      run_id: 'a',
      name: 'résumé ✓ 训练',
      layers: ['l0', 'l1'],
      meta: { note: longMeta },
    }),
    '',
    '{"type":"step","run_id":"a","step":0,"total_norm":1.5,"layer_norms":[1,0.5],"loss":2,"lr":0.001,"time":1700000000.5,"clipped":false,"seq":7}',
    '   ',
    '{"type":"step","run_id":"a","step":1,"total_norm":NaN,"layer_norms":[NaN,Infinity],"skipped":true,"clipped":true}',
    '{"type":"step","run_id":"a","step":2,"total_norm":"-Infinity","layer_norms":["NaN",3]}\r',
    '{"type":"step",',
    '{"type":"step","run_id":"a","step":-1,"total_norm":1}',
    '{"type":"mystery","run_id":"a"}',
    '{"type":"step","run_id":"b","step":0,"total_norm":4,"rank":3,"layer_norms":[]}',
    `{"type":"step","run_id":"a","step":3,"total_norm":2,"layer_norms":[1,2],"note":"${longMeta}"}`,
    '{"type":"step","run_id":"a","step":3,"total_norm":2}',
    ...Array.from(
      { length: 50 },
      (_, i) =>
        `{"type":"step","run_id":"a","step":${4 + i},"total_norm":${0.1 * i},"layer_norms":[${i},${-i}],"rank":0}`,
    ),
    '{"type":"run_end","run_id":"a","status":"completed","message":"ok"}',
  ];
  return lines.join('\n') + '\n{"type":"step","run_id":"a","st'; // a torn tail
}

async function readAll(
  read: typeof readRunLog,
  file: string,
  opts?: ParallelReadOptions,
): Promise<{ got: [ClientMessage, number][]; summary: ReadSummary }> {
  const got: [ClientMessage, number][] = [];
  const summary = await read(file, (m, line) => got.push([m, line]), opts);
  return { got, summary };
}

/** Reads with workers; also says how many ranges there were and how many workers parsed. */
async function readParallel(
  file: string,
  opts: ParallelReadOptions,
): Promise<{ got: [ClientMessage, number][]; summary: ReadSummary; ranges: number; inWorkers: number }> {
  const got: [ClientMessage, number][] = [];
  const { ranges, rangesInWorkers, ...summary } = await readRunLogParallel(
    file,
    (m, line) => got.push([m, line]),
    opts,
  );
  return { got, summary, ranges, inWorkers: rangesInWorkers };
}

test('the parallel reader hands on exactly what the streaming reader does, however the file is cut', async () => {
  const file = path.join(dir, 'awkward.jsonl');
  writeFileSync(file, awkwardLog());
  const expected = await readAll(readRunLog, file);
  assert.equal(expected.summary.tornTail, true);
  assert.equal(expected.summary.errors.length, 3, 'bad JSON, a negative step and an unknown type');
  for (const [firstRangeBytes, rangeBytes, workers] of [
    [1, 1, 2], // a range per line
    [10, 7, 1],
    [300, 4096, 3],
    [1 << 20, 1 << 20, 2], // the whole file in the main thread's first range
    [64, 128, 0], // no workers: everything parsed on the main thread
  ]) {
    const what = `ranges of ${firstRangeBytes}/${rangeBytes} bytes, ${workers} workers`;
    const actual = await readParallel(file, { firstRangeBytes, rangeBytes, workers });
    assert.deepEqual(actual.got, expected.got, what);
    assert.deepEqual(actual.summary, expected.summary, what);
    assert.equal(
      actual.inWorkers,
      workers === 0 ? 0 : actual.ranges - 1,
      `${what}: every range but the first parsed by a worker`,
    );
  }
});

test('a log whose last line is complete but has no newline loses nothing', async () => {
  const file = path.join(dir, 'no-final-newline.jsonl');
  writeFileSync(
    file,
    '{"type":"step","run_id":"a","step":0,"total_norm":1}\n{"type":"step","run_id":"a","step":1,"total_norm":2}',
  );
  const expected = await readAll(readRunLog, file);
  const { got, summary, inWorkers } = await readParallel(file, { firstRangeBytes: 10, rangeBytes: 10, workers: 1 });
  assert.deepEqual({ got, summary }, expected);
  assert.equal(inWorkers, 1);
  assert.equal(got.length, 2);
});

test('packed columns give back every step exactly, optional fields and all, in file order with the other messages', () => {
  const steps: StepMessage[] = [
    {
      type: 'step',
      run_id: 'a',
      step: 0,
      total_norm: NaN,
      layer_norms: [Infinity, -0, 1e-300],
      loss: 1,
      lr: 0,
      time: 1.5,
      clipped: false,
      skipped: true,
      rank: 2,
      seq: 2 ** 40,
    },
    { type: 'step', run_id: 'b', step: 2 ** 52, total_norm: 0.1 + 0.2 },
    { type: 'step', run_id: 'a', step: 1, total_norm: 3, layer_norms: [], clipped: true, skipped: false },
  ];
  const end: ClientMessage = { type: 'run_end', run_id: 'a', status: 'failed' };
  const parsed: ParsedLine[] = [
    { line: 1, message: steps[0] },
    { line: 2, error: 'bad', torn: true },
    { line: 3, message: steps[1] },
    { line: 5, message: end },
    { line: 6, message: steps[2] },
  ];
  const builder = new ColumnsBuilder(parsed.length);
  for (const p of parsed) builder.add(p);
  const columns = builder.finish();
  assert.deepEqual(
    [0, 1, 2].map((r) => stepAt(columns, r)),
    steps,
  );
  assert.deepEqual(
    Object.keys(stepAt(columns, 0)),
    Object.keys(steps[0]),
    'fields in the order validation builds them',
  );
  assert.deepEqual(columns.extras, [
    { before: 1, line: 2, error: 'bad', torn: true, tail: undefined },
    { before: 2, line: 5, message: end },
  ]);
  assert.deepEqual([...columns.line], [1, 3, 6]);
});

test('a range without a final newline treats its last line as the tail only when it ends the file', () => {
  const text = Buffer.from('{"type":"step","run_id":"a","step":0,"total_norm":1}\n{"type"');
  assert.deepEqual(
    parseLogRange(text, true).columns.extras.map((e) => e.tail),
    [true],
  );
  assert.deepEqual(
    parseLogRange(text, false).columns.extras.map((e) => e.tail),
    [false],
  );
});

test('an aborted parallel read stops, rejects and leaves no worker behind', async () => {
  const file = path.join(dir, 'abort.jsonl');
  const o = { runId: 'r', steps: 5_000 };
  writeFileSync(file, [runStartFor(o), ...syntheticSteps(o)].map((m) => stringifyKeepingNonFinite(m) + '\n').join(''));
  const controller = new AbortController();
  let reports = 0;
  await assert.rejects(
    readRunLogParallel(file, () => {}, {
      firstRangeBytes: 4096,
      rangeBytes: 4096,
      workers: 2,
      signal: controller.signal,
      onProgress: () => {
        if (++reports === 3) controller.abort();
      },
    }),
    { name: 'AbortError' },
  );
  assert.equal(reports, 3);
});

test('a log from 16 MiB up is loaded with workers, into the same run as the streaming reader builds', async () => {
  const file = path.join(dir, 'large.jsonl');
  const o = { runId: 'large', steps: 60_000, spikeAt: 40_000, nanAt: 50_000 };
  const messages: ClientMessage[] = [
    runStartFor(o),
    ...syntheticSteps(o),
    { type: 'run_end', run_id: 'large', status: 'completed' },
  ];
  writeFileSync(file, messages.map((m) => stringifyKeepingNonFinite(m) + '\n').join(''));
  const streamed = await readAll(readRunLog, file);
  assert.ok(streamed.summary.bytes >= PARALLEL_MIN_BYTES, `the log is ${streamed.summary.bytes} bytes`);
  let parallelMessages = 0;
  const read = await readLog(file, () => parallelMessages++);
  assert.equal(parallelMessages, messages.length);
  assert.deepEqual(
    { bytes: read.bytes, lines: read.lines, problems: read.problems },
    { bytes: streamed.summary.bytes, lines: streamed.summary.lines, problems: [] },
  );
  const loaded = await loadRun(file);
  assert.equal(loaded.run?.stepCount, 60_000);
  assert.deepEqual(loaded.run?.rules.spikes, [40_000]);
  assert.equal(loaded.tally.maxTotalStep, 40_000);
  assert.deepEqual(
    [...loaded.totals],
    streamed.got.flatMap(([m]) => (m.type === 'step' ? [m.total_norm] : [])),
  );
});

test('ranges of a worker that dies are parsed on the main thread: nothing is lost', async () => {
  const file = path.join(dir, 'dying-worker.jsonl');
  writeFileSync(file, awkwardLog());
  const dying = path.join(dir, 'dying-worker.js');
  writeFileSync(dying, "require('node:worker_threads').parentPort.on('message', () => process.exit(3));");
  const expected = await readAll(readRunLog, file);
  const { got, summary, ranges, inWorkers } = await readParallel(file, {
    firstRangeBytes: 100,
    rangeBytes: 500,
    workers: 2,
    workerScript: dying,
  });
  assert.deepEqual({ got, summary }, expected);
  assert.ok(ranges > 3);
  assert.equal(inWorkers, 0);
});
