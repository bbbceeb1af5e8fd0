import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GradientServer } from '../../src/server/server';
import { newToken } from '../../src/server/auth';
import { connect, startEndpoint, TestEndpoint, TOKEN, upgradeStatus } from '../helpers/endpoint';

describe('endpoint auth and origin', () => {
  let ep: TestEndpoint;
  before(async () => {
    ep = await startEndpoint({ allowedOrigins: ['vscode-webview://trusted'] });
  });
  after(() => ep.close());

  test('binds loopback and serves /v1/stream', () => {
    assert.match(ep.url, /^ws:\/\/127\.0\.0\.1:\d+\/v1\/stream$/);
  });

  test('bearer header and ?token= are both accepted', async () => {
    assert.equal(await upgradeStatus(ep.url, { authorization: `Bearer ${TOKEN}` }), 101);
    assert.equal(await upgradeStatus(`${ep.url}?token=${TOKEN}`, {}), 101);
  });

  test('a missing or wrong token is refused with 401 before the upgrade', async () => {
    assert.equal(await upgradeStatus(ep.url, {}), 401);
    assert.equal(await upgradeStatus(ep.url, { authorization: 'Bearer nope' }), 401);
    assert.equal(await upgradeStatus(`${ep.url}?token=nope`, {}), 401);
    assert.equal(await upgradeStatus(ep.url, { authorization: `Basic ${TOKEN}` }), 401);
  });

  test('browser origins are refused with 403 unless allowed', async () => {
    assert.equal(
      await upgradeStatus(ep.url, { authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' }),
      403,
    );
    assert.equal(
      await upgradeStatus(ep.url, { authorization: `Bearer ${TOKEN}`, origin: 'vscode-webview://trusted' }),
      101,
    );
  });

  test('a foreign Host header (DNS rebinding) is refused', async () => {
    assert.equal(await upgradeStatus(ep.url, { authorization: `Bearer ${TOKEN}`, host: 'attacker.example:7451' }), 403);
    assert.equal(
      await upgradeStatus(ep.url, { authorization: `Bearer ${TOKEN}`, host: `localhost:${ep.server.port}` }),
      101,
    );
  });

  test('other paths are 404', async () => {
    assert.equal(
      await upgradeStatus(ep.url.replace('/v1/stream', '/v2/stream'), { authorization: `Bearer ${TOKEN}` }),
      404,
    );
  });
});

describe('endpoint frames', () => {
  let ep: TestEndpoint;
  before(async () => {
    ep = await startEndpoint({ maxFrameBytes: 4096 });
  });
  after(() => ep.close());

  test('acks after recording, each message verbatim on its own line; duplicates are stored once', async () => {
    const c = await connect(ep.url);
    const sent = [
      '{"type":"run_start","run_id":"acked","layers":["a"],"seq":0}',
      '{ "type": "step", "run_id": "acked", "step": 0, "total_norm": 1, "layer_norms": [1], "seq": 1, "future_field": {"x": [1, 2]} }',
      '{"type":"step","run_id":"acked","step":0,"total_norm":1,"layer_norms":[1],"seq":2}',
      '{"type":"step","run_id":"acked","step":1,\n"total_norm":1,"seq":3}',
    ];
    c.ws.send(`[${sent.join(',')}]`);
    assert.deepEqual(await c.next(), { type: 'ack', seq: 3 });
    const lines = readFileSync(ep.hub.logPath('acked'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 3, 'the duplicate step 0 is not recorded again');
    assert.equal(lines[0], sent[0]);
    assert.equal(lines[1], sent[1].trim(), 'recorded as sent, unknown fields included');
    assert.deepEqual(
      JSON.parse(lines[2]),
      { type: 'step', run_id: 'acked', step: 1, total_norm: 1, seq: 3 },
      'a message with a line break is re-encoded onto one line',
    );
    c.ws.close();
  });

  test("Python's bare NaN is accepted and recorded as a string", async () => {
    const c = await connect(ep.url);
    c.ws.send(
      '{"type": "step", "run_id": "nan-run", "step": 5, "total_norm": NaN, "layer_norms": [Infinity], "seq": 9}',
    );
    assert.deepEqual(await c.next(), { type: 'ack', seq: 9 });
    const line = JSON.parse(readFileSync(ep.hub.logPath('nan-run'), 'utf8').trim());
    assert.equal(line.total_norm, 'NaN');
    assert.deepEqual(line.layer_norms, ['Infinity']);
    c.ws.close();
  });

  test('bad messages get error frames; the rest of the batch and the connection survive', async () => {
    const c = await connect(ep.url);
    c.ws.send(
      JSON.stringify([
        { type: 'step', run_id: 'mixed', step: 0, total_norm: 1, seq: 0 },
        { type: 'step', run_id: 'mixed', step: 'x', total_norm: 1, seq: 1 },
        { type: 'step', run_id: 'mixed', step: 2, total_norm: 1, seq: 2 },
      ]),
    );
    const reply = (await c.next()) as { type: string; index?: number; code?: string; seq?: number }[];
    assert.equal(reply[0].type, 'error');
    assert.equal(reply[0].index, 1);
    assert.equal(reply[0].seq, 1);
    assert.deepEqual(reply[1], { type: 'ack', seq: 2 });
    c.ws.send('not json');
    const err = (await c.next()) as { code: string; message: string };
    assert.equal(err.code, 'bad_json');
    c.ws.send(JSON.stringify({ type: 'step', run_id: 'mixed', step: 3, total_norm: 1, seq: 3 }));
    assert.deepEqual(await c.next(), { type: 'ack', seq: 3 });
    assert.equal(ep.hub.store.get('mixed')?.stepCount, 3);
    c.ws.close();
  });

  test('line-delimited frames are recorded line for line, non-ASCII text included', async () => {
    const c = await connect(ep.url);
    const ascii = [
      '{"type":"run_start","run_id":"lines","layers":["a"],"seq":0}',
      '{"type":"step","run_id":"lines","step":0,"total_norm":1,"layer_norms":[2],"seq":1}',
    ];
    c.ws.send(ascii.join('\n'));
    assert.deepEqual(await c.next(), { type: 'ack', seq: 1 });
    const unicode = [
      '{"type":"run_start","run_id":"lines","name":"réseau ✓","seq":2}',
      '{"type":"step","run_id":"lines","step":1,"total_norm":NaN,"seq":3}',
      '{"type":"step","run_id":"lines","step":2,"total_norm":3,"seq":4}',
    ];
    c.ws.send(unicode.join('\r\n') + '\n');
    assert.deepEqual(await c.next(), { type: 'ack', seq: 4 });
    const lines = readFileSync(ep.hub.logPath('lines'), 'utf8').trim().split('\n');
    assert.deepEqual(lines.slice(0, 3), [...ascii, unicode[0]]);
    assert.deepEqual(
      JSON.parse(lines[3]),
      { type: 'step', run_id: 'lines', step: 1, total_norm: 'NaN', seq: 3 },
      'bare NaN recorded as a string',
    );
    assert.equal(lines[4], unicode[2]);
    assert.equal(ep.hub.store.get('lines')?.name, 'réseau ✓');
    c.ws.close();
  });

  test('binary frames are refused with an error frame', async () => {
    const c = await connect(ep.url);
    c.ws.send(Buffer.from([1, 2, 3]));
    assert.match(((await c.next()) as { message: string }).message, /JSON text/);
    c.ws.close();
  });

  test('a frame over the size limit closes with 1009 and others keep streaming', async () => {
    const c = await connect(ep.url);
    const other = await connect(ep.url);
    const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
    c.ws.send(
      JSON.stringify({ type: 'step', run_id: 'big', step: 0, total_norm: 1, layer_norms: new Array(5000).fill(1) }),
    );
    assert.equal(await closed, 1009);
    other.ws.send(JSON.stringify({ type: 'step', run_id: 'after-big', step: 0, total_norm: 1, seq: 0 }));
    assert.deepEqual(await other.next(), { type: 'ack', seq: 0 });
    other.ws.close();
  });

  test('several connections feed the same run (ranks) without losing or doubling steps', async () => {
    const clients = await Promise.all([0, 1, 2].map(() => connect(ep.url)));
    await Promise.all(
      clients.map(async (c, rank) => {
        c.ws.send(
          JSON.stringify(
            Array.from({ length: 50 }, (_, step) => ({
              type: 'step',
              run_id: 'ranks',
              step,
              rank,
              total_norm: step,
              seq: step,
            })),
          ),
        );
        await c.next();
        c.ws.close();
      }),
    );
    const lines = readFileSync(ep.hub.logPath('ranks'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 150);
    assert.equal(ep.hub.store.get('ranks')?.stepCount, 50);
  });
});

describe('endpoint flow control', () => {
  test('a flood from several connections, with reading paused and resumed all along, is applied in order and acked', async () => {
    // A queue limit below one frame pauses reading after every frame; slices of 0 ms yield after every frame.
    const ep = await startEndpoint({ flow: { sliceMs: 0, maxQueuedBytes: 1 } });
    const clients = await Promise.all([0, 1, 2, 3].map(() => connect(ep.url)));
    const frames = 30;
    const perFrame = 20;
    await Promise.all(
      clients.map(async (c, k) => {
        for (let f = 0; f < frames; f++) {
          const steps = Array.from({ length: perFrame }, (_, i) =>
            JSON.stringify({ type: 'step', run_id: `flood-${k}`, step: f * perFrame + i, total_norm: 1, seq: f }),
          );
          c.ws.send(steps.join('\n'));
        }
        for (let f = 0; f < frames; f++) assert.deepEqual(await c.next(), { type: 'ack', seq: f });
        c.ws.close();
      }),
    );
    for (let k = 0; k < clients.length; k++) {
      const steps = readFileSync(ep.hub.logPath(`flood-${k}`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).step);
      assert.deepEqual(
        steps,
        Array.from({ length: frames * perFrame }, (_, i) => i),
      );
    }
    await ep.close();
  });
});

describe('endpoint lifecycle', () => {
  test('falls back to a free port when the preferred one is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as { port: number }).port;
    const ep = await startEndpoint({ port: taken });
    assert.notEqual(ep.server.port, taken);
    await ep.close();
    const strict = new GradientServer(ep.hub, { port: taken, strictPort: true, token: TOKEN });
    await assert.rejects(strict.listen(), /EADDRINUSE/);
    blocker.close();
  });

  test('a restarted endpoint resumes a run from its log: resent steps are recorded once', async () => {
    const first = await startEndpoint();
    let c = await connect(first.url);
    c.ws.send(
      JSON.stringify(
        Array.from({ length: 10 }, (_, step) => ({ type: 'step', run_id: 'resume', step, total_norm: 1, seq: step })),
      ),
    );
    await c.next();
    c.ws.close();
    await first.close();

    const second = await startEndpoint({}, {}, first.logDir);
    c = await connect(second.url);
    // The client was unsure about steps 5..9 and resends them with new ones.
    c.ws.send(
      JSON.stringify(
        Array.from({ length: 10 }, (_, i) => ({ type: 'step', run_id: 'resume', step: 5 + i, total_norm: 1, seq: i })),
      ),
    );
    assert.deepEqual(await c.next(), { type: 'ack', seq: 9 });
    c.ws.close();
    await second.close();
    const steps = readFileSync(path.join(first.logDir, readdirSync(first.logDir)[0]), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step);
    assert.deepEqual(
      steps,
      Array.from({ length: 15 }, (_, i) => i),
    );
  });

  test('connection limit answers 503 and frees up when clients leave', async () => {
    const ep = await startEndpoint({ maxConnections: 1 });
    const c = await connect(ep.url);
    assert.equal(await upgradeStatus(ep.url, { authorization: `Bearer ${TOKEN}` }), 503);
    const closed = new Promise((r) => c.ws.once('close', r));
    c.ws.close();
    await closed;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await upgradeStatus(ep.url, { authorization: `Bearer ${TOKEN}` }), 101);
    await ep.close();
  });

  test('the per-connection message rate limit refuses the excess with an error', async () => {
    const ep = await startEndpoint({ maxMessagesPerSecond: 5 });
    const c = await connect(ep.url);
    c.ws.send(
      JSON.stringify(
        Array.from({ length: 6 }, (_, step) => ({ type: 'step', run_id: 'fast', step, total_norm: 1, seq: step })),
      ),
    );
    const reply = (await c.next()) as { code: string };
    assert.equal(reply.code, 'rate_limited');
    assert.equal(ep.hub.store.get('fast'), undefined);
    c.ws.close();
    await ep.close();
  });

  test('health endpoint answers without a websocket', async () => {
    const ep = await startEndpoint();
    const res = await fetch(ep.url.replace('ws://', 'http://').replace('/v1/stream', '/v1/health'));
    assert.deepEqual(await res.json(), { ok: true, protocol: 1 });
    await ep.close();
  });
});

describe('tokens', () => {
  test('random tokens are long hex strings that never read as a command-line option', () => {
    const tokens = Array.from({ length: 200 }, newToken);
    for (const t of tokens) assert.match(t, /^[0-9a-f]{48}$/);
    assert.equal(new Set(tokens).size, tokens.length);
  });
});
