import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IngestFlow } from '../../src/server/flow';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // burn CPU like a big frame does
  }
}

describe('ingest flow control', () => {
  test('stops receiving above the queue limit and resumes once half of it is left', () => {
    const calls: boolean[] = [];
    const flow = new IngestFlow({ sliceMs: 5, maxQueuedBytes: 100 }, (on) => calls.push(on));
    flow.received(60);
    flow.received(40);
    assert.deepEqual(calls, [], 'at the limit: still receiving');
    flow.received(10);
    flow.received(10);
    assert.deepEqual(calls, [false], 'paused once');
    assert.equal(flow.receiving, false);
    flow.done(60);
    assert.deepEqual(calls, [false], '60 bytes left: above half');
    flow.done(10);
    assert.deepEqual(calls, [false, true]);
    assert.equal(flow.receiving, true);
    assert.equal(flow.queued, 50);
  });

  test('work that outlasts a slice lets the event loop turn before going on', async () => {
    const flow = new IngestFlow({ sliceMs: 1, maxQueuedBytes: 1e9 }, () => undefined);
    const order: string[] = [];
    setImmediate(() => order.push('event loop'));
    for (let i = 0; i < 4; i++) {
      await flow.turn();
      busy(3);
      order.push(`job ${i}`);
    }
    assert.deepEqual(order.slice(0, 2), ['job 0', 'event loop'], 'the second job waits for the loop');
  });

  test('work within a slice goes on without yielding', async () => {
    const flow = new IngestFlow({ sliceMs: 60_000, maxQueuedBytes: 1e9 }, () => undefined);
    const order: string[] = [];
    setImmediate(() => order.push('event loop'));
    for (let i = 0; i < 4; i++) {
      await flow.turn();
      order.push(`job ${i}`);
    }
    assert.deepEqual(order, ['job 0', 'job 1', 'job 2', 'job 3']);
  });
});
