/**
 * The endpoint's safety settings inside real VS Code: two windows asking for the same port (the
 * second falls back to a free one, both publish discovery files, a client in a workspace picks
 * its own window), the limit settings reaching the endpoint, and a network bind without a chosen
 * token refused with an error the user sees.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { pickEndpoint } from '../../src/server/discovery';
import { connect } from '../helpers/endpoint';
import { rawUpgrade } from '../helpers/rawHttp';
import { launchVSCode, VSCodeSession } from './harness';

const sessions: VSCodeSession[] = [];
after(async () => {
  for (const s of sessions) await s.close();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('two windows on one port: the second falls back, both are discoverable, clients pick their window, limit settings apply', async () => {
  const port = await freePort();
  const limits = {
    'gradientMonitor.maxConnections': 2,
    'gradientMonitor.maxLayers': 4,
    'gradientMonitor.maxRuns': 1,
    'gradientMonitor.maxMessagesPerSecond': 50,
  };
  const first = await launchVSCode({ settings: { 'gradientMonitor.port': port } });
  sessions.push(first);
  const a = await first.endpoint();
  assert.equal(Number(new URL(a.url).port), port, 'the first window gets the port it asked for');
  const second = await launchVSCode({ settings: { 'gradientMonitor.port': port, ...limits } });
  sessions.push(second);
  const b = await second.endpoint();
  assert.notEqual(Number(new URL(b.url).port), port, 'the second window falls back to a free port');
  assert.deepEqual(b.workspaceFolders, [second.workspace]);

  // A client working inside a window's workspace streams to that window, whichever is newer.
  mkdirSync(path.join(first.workspace, 'src'), { recursive: true });
  assert.equal(pickEndpoint([a, b], path.join(first.workspace, 'src'))?.url, a.url);
  assert.equal(pickEndpoint([a, b], second.workspace)?.url, b.url);

  // The second window's limit settings reached its endpoint.
  const headers = { authorization: `Bearer ${b.token}` };
  const c1 = await connect(b.url, headers);
  const c2 = await connect(b.url, headers);
  const third = await rawUpgrade(Number(new URL(b.url).port), '/v1/stream', { Authorization: `Bearer ${b.token}` });
  assert.equal(
    `${third.statusLine} ${third.body}`,
    'HTTP/1.1 503 Service Unavailable {"error":"too many connections (limit 2)"}',
  );
  c1.ws.send(JSON.stringify({ type: 'run_start', run_id: 'wide', layers: ['a', 'b', 'c', 'd', 'e'], seq: 0 }));
  assert.equal(((await c1.next()) as { message: string }).message, 'run_start.layers has 5 entries, the limit is 4');
  c1.ws.send(JSON.stringify({ type: 'step', run_id: 'one', step: 0, total_norm: 1, seq: 1 }));
  assert.deepEqual(await c1.next(), { type: 'ack', seq: 1 });
  c1.ws.send(JSON.stringify({ type: 'step', run_id: 'two', step: 0, total_norm: 1, seq: 2 }));
  assert.equal(((await c1.next()) as { code: string }).code, 'limit_exceeded');
  c2.ws.send(
    JSON.stringify(
      Array.from({ length: 51 }, (_, step) => ({
        type: 'step',
        run_id: 'one',
        step: step + 1,
        total_norm: 1,
        seq: step,
      })),
    ),
  );
  assert.equal(((await c2.next()) as { code: string }).code, 'rate_limited');
  c1.ws.close();
  c2.ws.close();
});

test('a window asked to bind 0.0.0.0 without a token of its own refuses, and says why', async () => {
  const open = await launchVSCode({ settings: { 'gradientMonitor.host': '0.0.0.0' } });
  sessions.push(open);
  const toast = open.page.locator('.notification-toast', { hasText: 'could not start its endpoint' }).first();
  await toast.waitFor({ timeout: 60_000 });
  assert.match(
    await toast.innerText(),
    /refusing to listen on 0\.0\.0\.0, which the network can reach, with a generated token/,
  );
  await open.screenshot('reliability-network-bind-refused');
});
