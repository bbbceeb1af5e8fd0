/**
 * Random and mutated frames through a real endpoint over a real websocket: the connection survives
 * every frame, every frame gets its reply, and every valid step lands in the log exactly once.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { connect, startEndpoint, TestEndpoint } from '../helpers/endpoint';
import { invalidItem, mutate, mutation, pythonDumps, validStep } from '../helpers/fuzz';

const RUNS = ['plain', '../../escape', 'CON', 'NaN "quoted" \\ run'];

let ep: TestEndpoint;
before(async () => {
  ep = await startEndpoint();
});
after(() => ep.close());

type Frame = { text: Buffer; items: { run_id: string; step: number; rank: number }[] };

const step = fc
  .tuple(validStep, fc.constantFrom(...RUNS), fc.nat(300), fc.nat(2))
  .map(([m, run_id, s, rank]) => ({ ...m, run_id, step: s, rank }));
const item = fc.oneof(
  { weight: 3, arbitrary: step.map((m) => ({ valid: true as const, m })) },
  { weight: 1, arbitrary: invalidItem.map((m) => ({ valid: false as const, m })) },
);
const frame: fc.Arbitrary<Frame> = fc.oneof(
  // A batch of valid and invalid items: the valid steps must land.
  fc.array(item, { minLength: 1, maxLength: 25 }).map((items) => ({
    text: Buffer.from(pythonDumps(items.map((i) => i.m))),
    items: items.filter((i) => i.valid).map((i) => i.m as { run_id: string; step: number; rank: number }),
  })),
  // A mutated batch: anything may happen to it, except harm to the connection or other frames.
  fc
    .tuple(fc.array(step, { minLength: 1, maxLength: 5 }), fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([steps, edits]) => ({
      text: Buffer.from(mutate(pythonDumps(steps.map((s) => ({ ...s, run_id: 'mutated' }))), edits)),
      items: [],
    })),
  // Invalid UTF-8 inside a string of an otherwise valid batch: the other messages land.
  fc.tuple(step, fc.uint8Array({ min: 0x80, max: 0xff, minLength: 1, maxLength: 6 })).map(([s, junk]) => ({
    text: Buffer.concat([
      Buffer.from(`[${pythonDumps(s)},{"type":"run_start","run_id":"utf8","name":"`),
      Buffer.from(junk),
      Buffer.from('"}]'),
    ]),
    items: [s],
  })),
);

test('random, mutated and invalid-UTF-8 frames over a real socket: nothing lost, nothing doubled, connection kept', async () => {
  const frames = fc.sample(frame, { numRuns: 400, seed: 7 });
  const c = await connect(ep.url);
  let closed = false;
  const whenClosed = new Promise<never>((_, reject) =>
    c.ws.on('close', (code) => ((closed = true), reject(new Error(`connection closed with ${code}`)))),
  );
  const expected = new Map<string, Set<string>>(RUNS.map((r) => [r, new Set()]));
  for (const f of frames) {
    c.ws.send(f.text, { binary: false });
    for (const s of f.items) expected.get(s.run_id)!.add(`${s.step}/${s.rank}`);
  }
  // One reply per frame, in order; a last frame with a known seq tells us everything before it is done.
  c.ws.send(JSON.stringify({ type: 'run_end', run_id: 'plain', status: 'completed', seq: 1e15 }));
  for (;;) {
    const r = (await Promise.race([c.next(), whenClosed])) as
      { type: string; seq?: number } | { type: string; seq?: number }[];
    const last = Array.isArray(r) ? r[r.length - 1] : r;
    if (last.type === 'ack' && last.seq === 1e15) break;
  }
  assert.equal(closed, false, 'the connection survives every frame');
  for (const run of RUNS) {
    const lines = readFileSync(ep.hub.logPath(run), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const steps = lines.filter((l) => l.type === 'step').map((l) => `${l.step}/${l.rank ?? 0}`);
    assert.equal(steps.length, new Set(steps).size, `no step of ${run} recorded twice`);
    assert.deepEqual(new Set(steps), expected.get(run), `every valid step of ${run} recorded`);
  }
  c.ws.close();
});
