/**
 * Every limit, exceeded on purpose: the offender gets a clear error (or close code, or HTTP
 * status) and a bystander connection streaming at the same time keeps being served.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { MAX_RANKS } from '../../src/runs/runStore';
import { connect, startEndpoint, TOKEN, upgradeStatus } from '../helpers/endpoint';
import { rawUpgrade } from '../helpers/rawHttp';

type Client = Awaited<ReturnType<typeof connect>>;
type Reply = { type: string; code?: string; message?: string; seq?: number; index?: number; run_id?: string };

let nextSeq = 0;
/** Streams steps of a run and waits for their ack: the bystander's proof of service. */
async function streamSteps(c: Client, runId: string, from: number, count: number): Promise<void> {
  const seq = nextSeq++;
  c.ws.send(
    JSON.stringify(
      Array.from({ length: count }, (_, i) => ({
        type: 'step',
        run_id: runId,
        step: from + i,
        total_norm: 1,
        ...(i === count - 1 ? { seq } : {}),
      })),
    ),
  );
  assert.deepEqual(await c.next(), { type: 'ack', seq });
}

const replies = (r: unknown): Reply[] => (Array.isArray(r) ? r : [r]) as Reply[];

describe('limits', () => {
  test('frame size: a bigger frame closes that connection with 1009; it may reconnect; others go on', async () => {
    const ep = await startEndpoint({ maxFrameBytes: 4096 });
    const bystander = await connect(ep.url);
    const c = await connect(ep.url);
    const closed = new Promise<[number, string]>((resolve) =>
      c.ws.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    c.ws.send(
      JSON.stringify({ type: 'step', run_id: 'big', step: 0, total_norm: 1, layer_norms: new Array(5000).fill(1) }),
    );
    await streamSteps(bystander, 'bystander', 0, 10);
    assert.deepEqual(await closed, [1009, ''], '1009 is "message too big"; ws sends no reason with it');
    const again = await connect(ep.url);
    await streamSteps(again, 'big', 0, 10);
    await streamSteps(bystander, 'bystander', 10, 10);
    assert.equal(ep.hub.store.get('bystander')?.stepCount, 20);
    await ep.close();
  });

  test('messages per second: the frame over the budget is refused with rate_limited, then the connection is served again', async () => {
    const ep = await startEndpoint({ maxMessagesPerSecond: 100 });
    const bystander = await connect(ep.url);
    const c = await connect(ep.url);
    await streamSteps(c, 'fast', 0, 60);
    c.ws.send(
      JSON.stringify(
        Array.from({ length: 60 }, (_, i) => ({
          type: 'step',
          run_id: 'fast',
          step: 60 + i,
          total_norm: 1,
          seq: 1000 + i,
        })),
      ),
    );
    assert.deepEqual(await c.next(), {
      type: 'error',
      code: 'rate_limited',
      message:
        "more than 100 messages per second on one connection: this frame's 60 messages were dropped, send them again later",
    });
    await streamSteps(bystander, 'bystander', 0, 90); // its own budget
    assert.equal(ep.hub.store.get('fast')?.stepCount, 60, 'the refused frame was not applied');
    await new Promise((r) => setTimeout(r, 1000));
    await streamSteps(c, 'fast', 60, 60);
    assert.equal(ep.hub.store.get('fast')?.stepCount, 120);
    await ep.close();
  });

  test('connections: one more than the limit gets 503; the others keep streaming; a slot frees when one leaves', async () => {
    const ep = await startEndpoint({ maxConnections: 3 });
    const clients = await Promise.all([0, 1, 2].map(() => connect(ep.url)));
    const r = await rawUpgrade(ep.server.port, '/v1/stream', { Authorization: `Bearer ${TOKEN}` });
    assert.equal(r.statusLine, 'HTTP/1.1 503 Service Unavailable');
    assert.equal(r.body, '{"error":"too many connections (limit 3)"}');
    await Promise.all(clients.map((c, i) => streamSteps(c, `run-${i}`, 0, 10)));
    const left = new Promise((resolve) => clients[0].ws.once('close', resolve));
    clients[0].ws.close();
    await left;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await upgradeStatus(ep.url, { authorization: `Bearer ${TOKEN}` }), 101);
    await ep.close();
  });

  test('layers per run: a run_start naming more layers than the limit is refused; the rest of the frame lands', async () => {
    const ep = await startEndpoint({ validation: { maxLayers: 8 } });
    const c = await connect(ep.url);
    c.ws.send(
      JSON.stringify([
        { type: 'run_start', run_id: 'wide', layers: Array.from({ length: 9 }, (_, i) => `l${i}`), seq: 0 },
        { type: 'step', run_id: 'wide', step: 0, total_norm: 1, layer_norms: new Array(9).fill(1), seq: 1 },
        { type: 'step', run_id: 'wide', step: 1, total_norm: 1, layer_norms: new Array(8).fill(1), seq: 2 },
      ]),
    );
    assert.deepEqual(await c.next(), [
      {
        type: 'error',
        code: 'bad_message',
        message: 'run_start.layers has 9 entries, the limit is 8',
        index: 0,
        run_id: 'wide',
        seq: 0,
      },
      {
        type: 'error',
        code: 'bad_message',
        message: 'step.layer_norms has 9 values, the limit is 8',
        index: 1,
        run_id: 'wide',
        seq: 1,
      },
      { type: 'ack', seq: 2 },
    ]);
    assert.equal(ep.hub.store.get('wide')?.stepCount, 1);
    await ep.close();
  });

  test('runs in memory: a new live run beyond the limit is refused; ending one makes room; other runs go on', async () => {
    const ep = await startEndpoint({}, { maxRuns: 3 });
    const c = await connect(ep.url);
    for (const id of ['a', 'b', 'c']) await streamSteps(c, id, 0, 5);
    c.ws.send(JSON.stringify({ type: 'step', run_id: 'd', step: 0, total_norm: 1, seq: 77 }));
    assert.deepEqual(await c.next(), {
      type: 'error',
      code: 'limit_exceeded',
      message: 'too many live runs: at most 3 are kept in memory; end some runs first',
      run_id: 'd',
    });
    await streamSteps(c, 'a', 5, 5);
    c.ws.send(JSON.stringify({ type: 'run_end', run_id: 'b', status: 'completed', seq: 78 }));
    assert.deepEqual(await c.next(), { type: 'ack', seq: 78 });
    await streamSteps(c, 'd', 0, 5);
    assert.deepEqual(
      ep.hub.store
        .all()
        .map((r) => r.id)
        .sort(),
      ['a', 'c', 'd'],
    );
    assert.equal(readFileSync(ep.hub.logPath('b'), 'utf8').trim().split('\n').length, 6, 'a dropped run stays on disk');
    await ep.close();
  });

  test(`ranks per run: rank number ${MAX_RANKS + 1} of one run is refused; existing ranks go on`, async () => {
    const ep = await startEndpoint();
    const c = await connect(ep.url);
    c.ws.send(
      JSON.stringify(
        Array.from({ length: MAX_RANKS + 1 }, (_, rank) => ({
          type: 'step',
          run_id: 'ddp',
          rank,
          step: 0,
          total_norm: 1,
          seq: rank,
        })),
      ),
    );
    assert.deepEqual(await c.next(), [
      {
        type: 'error',
        code: 'limit_exceeded',
        message: `run ddp already has ${MAX_RANKS} ranks; step from rank ${MAX_RANKS} refused`,
        run_id: 'ddp',
      },
      { type: 'ack', seq: MAX_RANKS - 1 },
    ]);
    await streamSteps(c, 'ddp', 1, 5);
    assert.equal(ep.hub.store.get('ddp')?.ranks.length, MAX_RANKS);
    await ep.close();
  });

  test('a frame full of bad messages gets a bounded reply: the first 99 errors and a count of the rest', async () => {
    const ep = await startEndpoint();
    const c = await connect(ep.url);
    c.ws.send(
      JSON.stringify([
        ...Array.from({ length: 5000 }, (_, i) => ({ type: 'step', run_id: 'bad', step: -1, total_norm: 1, seq: i })),
        { type: 'step', run_id: 'bad', step: 0, total_norm: 1, seq: 5000 },
      ]),
    );
    const r = replies(await c.next());
    assert.equal(r.length, 101);
    assert.equal(r[98].index, 98);
    assert.deepEqual(r[99], {
      type: 'error',
      code: 'bad_message',
      message: 'and 4901 more messages of this frame were refused (only the first 99 are listed)',
    });
    assert.deepEqual(r[100], { type: 'ack', seq: 5000 });
    await ep.close();
  });

  test('meta nested too deep is refused with an error; the connection lives on (it used to be closed with 1011)', async () => {
    const ep = await startEndpoint();
    const c = await connect(ep.url);
    const depth = 100_000;
    c.ws.send(
      `[{"type":"run_start","run_id":"deep","seq":0,"meta":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}},{"type":"step","run_id":"deep","step":0,"total_norm":1,"seq":1}]`,
    );
    assert.deepEqual(await c.next(), [
      {
        type: 'error',
        code: 'bad_message',
        message: 'run_start.meta is nested more than 32 levels deep',
        index: 0,
        run_id: 'deep',
        seq: 0,
      },
      { type: 'ack', seq: 1 },
    ]);
    await streamSteps(c, 'deep', 1, 5);
    await ep.close();
  });

  test('flow control: while the disk refuses, a connection holding too much unacknowledged data is no longer read; nothing is lost', async () => {
    const base = mkdtempSync(path.join(os.tmpdir(), 'gm-flow-'));
    const logDir = path.join(base, 'runs');
    writeFileSync(logDir, 'a file where the folder should be');
    const ep = await startEndpoint({ maxUnackedBytes: 64 * 1024, heartbeatMs: 200 }, {}, logDir);
    ep.hub.recorder['opts'].retryMs = 50;
    const c = await connect(ep.url);
    // The pause lasts over two heartbeats: a paused connection must not be taken for a dead one.
    const dropped = new Promise<never>((_, reject) =>
      c.ws.once('close', (code) => reject(new Error(`connection closed (${code}) while paused`))),
    );
    const frames = 40;
    const perFrame = 200; // about 12 KiB a frame: 480 KiB in all, far over the 64 KiB allowance
    for (let f = 0; f < frames; f++) {
      c.ws.send(
        JSON.stringify(
          Array.from({ length: perFrame }, (_, i) => ({
            type: 'step',
            run_id: 'held',
            step: f * perFrame + i,
            total_norm: 1,
            loss: 0.5,
            seq: f * perFrame + i,
          })),
        ),
      );
    }
    const notice = (await Promise.race([c.next(), dropped])) as Reply;
    assert.equal(notice.code, 'recording_failed');
    await new Promise((r) => setTimeout(r, 500));
    const applied = ep.hub.store.get('held')?.stepCount ?? 0;
    // 64 KiB allowed, plus what the socket had already read (up to one 64 KiB chunk): far from all 480 KiB.
    assert.ok(
      applied > 0 && applied <= 16 * perFrame,
      `stopped reading after about 64 KiB, applied ${applied} of ${frames * perFrame} steps`,
    );
    rmSync(logDir);
    let acked = -1;
    while (acked < frames * perFrame - 1) {
      for (const r of replies(await Promise.race([c.next(), dropped]))) if (r.type === 'ack') acked = r.seq!;
    }
    await ep.close();
    const steps = readFileSync(ep.hub.logPath('held'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step);
    assert.deepEqual(
      steps,
      Array.from({ length: frames * perFrame }, (_, i) => i),
    );
  });
});
