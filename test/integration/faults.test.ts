/**
 * Faults injected into a running endpoint with real sockets and real processes: clients killed
 * mid-frame, endpoints killed and restarted under ten streaming clients, log folders replaced,
 * deleted or full, two endpoints started on one port. The rule checked each time: every
 * acknowledged step is in the log exactly once, and the endpoint keeps serving.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { ClientMessage } from '../../src/protocol/messages';
import { BIN, cli, serve, stopServers } from '../helpers/cli';
import { connect, startEndpoint, TestEndpoint, TOKEN, upgradeStatus } from '../helpers/endpoint';
import { rawUpgrade } from '../helpers/rawHttp';
import { ReconnectingClient } from '../helpers/reconnectingClient';

after(stopServers);

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'gm-fault-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const REPO = path.resolve(__dirname, '..', '..');

/** Step numbers recorded in a log, in file order. */
function loggedSteps(file: string): number[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((m) => m.type === 'step')
    .map((m) => m.step);
}

function assertExactlyOnce(file: string, expected: number, acked: Set<number>, label: string): void {
  const steps = loggedSteps(file);
  assert.equal(steps.length, new Set(steps).size, `${label}: no step recorded twice`);
  for (const s of acked) assert.ok(steps.includes(s), `${label}: acknowledged step ${s} is in the log`);
  assert.deepEqual(
    [...steps].sort((a, b) => a - b),
    Array.from({ length: expected }, (_, i) => i),
    `${label}: every step recorded`,
  );
}

/**
 * Ten reconnecting clients, one run each, sending 10 steps every 50 ms for `ms`, while `inject`
 * breaks things; then ends the runs and waits until every message is acknowledged. Returns the run
 * ids, the steps each run sent, and the steps each client saw acknowledged.
 */
async function streamThrough(
  url: () => string,
  ms: number,
  inject: () => Promise<void>,
): Promise<{ runs: string[]; steps: number; acked: Set<number>[] }> {
  const runs = Array.from({ length: 10 }, (_, i) => `client-${i}`);
  const acked = runs.map(() => new Set<number>());
  const clients = runs.map(
    (_, i) =>
      new ReconnectingClient({
        url,
        token: TOKEN,
        onAck: (covered) => covered.forEach((m) => m.type === 'step' && acked[i].add(m.step)),
      }),
  );
  clients.forEach((c, i) => c.send([{ type: 'run_start', run_id: runs[i], layers: ['a', 'b'] }]));
  let step = 0;
  const tick = setInterval(() => {
    const batch = Array.from({ length: 10 }, (_, k) => step + k);
    step += 10;
    clients.forEach((c, i) =>
      c.send(
        batch.map((s): ClientMessage => ({
          type: 'step',
          run_id: runs[i],
          step: s,
          total_norm: 1 + (s % 5),
          layer_norms: [1, 2],
        })),
      ),
    );
  }, 50);
  await Promise.all([inject(), sleep(ms)]);
  clearInterval(tick);
  clients.forEach((c, i) => c.send([{ type: 'run_end', run_id: runs[i], status: 'completed' }]));
  await Promise.all(clients.map((c) => c.drained()));
  clients.forEach((c) => c.close());
  return { runs, steps: step, acked };
}

describe('faults', () => {
  test('a client killed mid-frame: its complete frames are kept, the partial one is dropped, everyone else goes on', async () => {
    const ep = await startEndpoint();
    const bystander = await connect(ep.url);
    // A real process: sends one whole frame, waits for its ack, then writes half of the next frame's bytes.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `
      const { WebSocket } = require('ws');
      const ws = new WebSocket(${JSON.stringify(ep.url)}, { headers: { authorization: 'Bearer ${TOKEN}' } });
      ws.on('open', () => ws.send(JSON.stringify({ type: 'step', run_id: 'killed', step: 0, total_norm: 1, seq: 0 })));
      ws.on('message', () => {
        // A masked text frame announcing 1000 payload bytes, of which only 100 are written.
        const header = Buffer.from([0x81, 0xfe, 0x03, 0xe8, 1, 2, 3, 4]);
        ws._socket.write(Buffer.concat([header, Buffer.alloc(100, 0x41)]));
        console.log('partial');
      });
    `,
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout!.on('data', (d) => String(d).includes('partial') && resolve()));
    assert.equal(ep.server.connectionCount, 2);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    for (let i = 0; i < 100 && ep.server.connectionCount > 1; i++) await sleep(20);
    assert.equal(ep.server.connectionCount, 1, 'the dead connection is gone');
    bystander.ws.send(JSON.stringify({ type: 'step', run_id: 'bystander', step: 0, total_norm: 1, seq: 0 }));
    assert.deepEqual(await bystander.next(), { type: 'ack', seq: 0 });
    assert.deepEqual(loggedSteps(ep.hub.logPath('killed')), [0]);
    await ep.close();
  });

  test('`gradient-monitor serve` killed (SIGKILL) and stopped (SIGTERM) while 10 clients stream: every acknowledged step in the log exactly once', async (t) => {
    const logDir = tmp();
    const home = tmp();
    const args = (port: number): string[] => ['--port', String(port), '--token', TOKEN, '--log-dir', logDir];
    let current = await serve(args(0), { GRADIENT_MONITOR_HOME: home });
    const port = Number(new URL(current.url).port);
    const restart = async (signal: NodeJS.Signals, downMs: number): Promise<void> => {
      const exited = new Promise((r) => current.proc.once('exit', r));
      current.proc.kill(signal);
      await exited;
      await sleep(downMs);
      current = await serve(args(port), { GRADIENT_MONITOR_HOME: home });
      assert.equal(Number(new URL(current.url).port), port, 'restarted on the same port');
    };
    const { runs, steps, acked } = await streamThrough(
      () => `ws://127.0.0.1:${port}/v1/stream`,
      3000,
      async () => {
        await sleep(700);
        await restart('SIGKILL', 300);
        await sleep(900);
        await restart('SIGTERM', 0);
      },
    );
    const exited = new Promise((r) => current.proc.once('exit', r));
    current.proc.kill('SIGINT');
    assert.equal(await exited, 0);
    const files = readdirSync(logDir);
    assert.equal(files.length, 10);
    for (const run of runs) {
      const file = files.find((f) => f.startsWith(`${run}-`))!;
      assertExactlyOnce(path.join(logDir, file), steps, acked[runs.indexOf(run)], run);
    }
    t.diagnostic(`10 clients x ${steps} steps through 2 endpoint restarts (SIGKILL, SIGTERM): 0 lost, 0 doubled`);
  });

  test('Hub + GradientServer restarted in-process while 10 clients stream: every acknowledged step in the log exactly once', async () => {
    const logDir = tmp();
    let ep: TestEndpoint = await startEndpoint({}, {}, logDir);
    const port = ep.server.port;
    const { runs, steps, acked } = await streamThrough(
      () => `ws://127.0.0.1:${port}/v1/stream`,
      2000,
      async () => {
        for (const at of [500, 600]) {
          await sleep(at);
          await ep.close();
          ep = await startEndpoint({ port, strictPort: true }, {}, logDir);
        }
      },
    );
    await ep.close();
    for (const [i, run] of runs.entries()) assertExactlyOnce(ep.hub.logPath(run), steps, acked[i], run);
  });

  test('log folder replaced by a file: clients are told, acks wait, the live view goes on, and recording resumes with nothing lost', async () => {
    const base = tmp();
    const logDir = path.join(base, 'runs');
    const ep = await startEndpoint({}, {}, logDir);
    ep.hub.recorder['opts'].retryMs = 50;
    const c = await connect(ep.url);
    const send = (from: number, n: number, seq: number): void =>
      c.ws.send(
        JSON.stringify(
          Array.from({ length: n }, (_, i) => ({
            type: 'step',
            run_id: 'blocked',
            step: from + i,
            total_norm: 1,
            ...(i === n - 1 ? { seq } : {}),
          })),
        ),
      );
    send(0, 50, 0);
    assert.deepEqual(await c.next(), { type: 'ack', seq: 0 });
    renameSync(logDir, `${logDir}.away`);
    writeFileSync(logDir, 'not a folder');
    send(50, 50, 1);
    const notice = (await c.next()) as { code: string; message: string };
    assert.equal(notice.code, 'recording_failed');
    assert.match(
      notice.message,
      /^cannot write the log of run blocked: (ENOTDIR|EEXIST)[^;]*; messages are kept in memory and acknowledged once written$/,
    );
    send(100, 50, 2);
    await sleep(200);
    assert.equal(c.replies.length, 0, 'no ack while the log cannot be written');
    assert.equal(ep.hub.store.get('blocked')?.stepCount, 150, 'the live view has every step');
    rmSync(logDir);
    renameSync(`${logDir}.away`, logDir);
    assert.deepEqual(await c.next(), { type: 'ack', seq: 1 });
    assert.deepEqual(await c.next(), { type: 'ack', seq: 2 });
    assert.deepEqual(
      loggedSteps(ep.hub.logPath('blocked')),
      Array.from({ length: 150 }, (_, i) => i),
    );
    await ep.close();
  });

  test('log folder deleted while a run streams: the log is created anew and every later step is in it', async () => {
    const logDir = path.join(tmp(), 'runs');
    const ep = await startEndpoint({}, {}, logDir);
    const c = await connect(ep.url);
    c.ws.send(JSON.stringify([{ type: 'step', run_id: 'deleted', step: 0, total_norm: 1, seq: 0 }]));
    assert.deepEqual(await c.next(), { type: 'ack', seq: 0 });
    rmSync(logDir, { recursive: true });
    c.ws.send(JSON.stringify([{ type: 'step', run_id: 'deleted', step: 1, total_norm: 1, seq: 1 }]));
    assert.deepEqual(await c.next(), { type: 'ack', seq: 1 });
    assert.deepEqual(
      loggedSteps(ep.hub.logPath('deleted')),
      [1],
      'written where it can be found, not into the deleted file',
    );
    await ep.close();
  });

  test('disk full (a real 64 KiB tmpfs): clear error, data kept, recording resumes when space frees, nothing lost or doubled', async (t) => {
    const dir = tmp();
    // A private mount namespace: root in a user namespace may mount a tmpfs without real privileges.
    const probe = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs ${dir}`]);
    if (probe.status !== 0) return t.skip(`no unprivileged tmpfs here (unshare -rm: ${String(probe.stderr).trim()})`);
    const proc: ChildProcess = spawn(
      'unshare',
      [
        '-rm',
        'sh',
        '-c',
        'mount -t tmpfs -o size=64k tmpfs "$0" && head -c 40000 /dev/zero > "$0/filler" && exec "$@"',
        dir,
        process.execPath,
        BIN,
        'serve',
        '--port',
        '0',
        '--token',
        TOKEN,
        '--log-dir',
        dir,
      ],
      {
        env: { ...process.env, GRADIENT_MONITOR_HOME: tmp() },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    const url = await new Promise<string>((resolve, reject) => {
      proc.stdout!.once('data', (d) => resolve(String(d).split('\n')[0]));
      proc.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const inside = `/proc/${proc.pid}/root${dir}`; // the tmpfs as the endpoint sees it
    const c = await connect(url);
    const total = 400; // about 40 KB of log: more than the 24 KiB left
    c.ws.send(
      JSON.stringify(
        Array.from({ length: total }, (_, step) => ({
          type: 'step',
          run_id: 'full',
          step,
          total_norm: 1.2345678,
          loss: 0.1234567,
          lr: 0.001,
          seq: step,
        })),
      ),
    );
    const notice = (await c.next()) as { code: string; message: string };
    assert.equal(notice.code, 'recording_failed');
    assert.match(notice.message, /ENOSPC: no space left on device/);
    await sleep(300);
    assert.equal(c.replies.length, 0, 'no ack while the disk is full');
    assert.match(stderr, /cannot record full: ENOSPC: no space left on device, write \(kept in memory, retrying\)/);
    rmSync(`${inside}/filler`);
    assert.deepEqual(await c.next(), { type: 'ack', seq: total - 1 });
    const log = readdirSync(inside).find((f) => f.endsWith('.jsonl'))!;
    assert.deepEqual(
      loggedSteps(`${inside}/${log}`),
      Array.from({ length: total }, (_, i) => i),
    );
    for (let i = 0; i < 50 && !/recording full resumed/.test(stderr); i++) await sleep(20);
    assert.match(stderr, /recording full resumed/);
    c.ws.close();
    proc.kill('SIGINT');
    await new Promise((r) => proc.once('exit', r));
  });

  test('serve asked to stop while the disk refuses gives up after its deadline and says how much', async () => {
    const blocked = path.join(tmp(), 'runs');
    writeFileSync(blocked, 'a file where the folder should be');
    const { proc, url, stderr } = await serve(['--port', '0', '--token', TOKEN, '--log-dir', blocked], {
      GRADIENT_MONITOR_HOME: tmp(),
    });
    const c = await connect(url);
    c.ws.send(JSON.stringify({ type: 'step', run_id: 'stuck', step: 0, total_norm: 1, seq: 0 }));
    assert.equal(((await c.next()) as { code: string }).code, 'recording_failed');
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGINT');
    assert.equal(await exited, 1);
    assert.match(stderr(), /gave up on 1 messages that could not be written to .*runs within 5 s/);
  });

  test('two endpoints asked for the same port: the second takes a free one, both are discoverable, clients pick the right one', async () => {
    const home = tmp();
    const env = { GRADIENT_MONITOR_HOME: home, GRADIENT_MONITOR_URL: '', GRADIENT_MONITOR_TOKEN: '' };
    const first = await serve(['--port', '0', '--token', 'first-token', '--log-dir', tmp()], env);
    const port = Number(new URL(first.url).port);
    await sleep(20); // distinct startedAt
    const secondLogs = tmp();
    const second = await serve(['--port', String(port), '--token', 'second-token', '--log-dir', secondLogs], env);
    assert.notEqual(Number(new URL(second.url).port), port, 'the second endpoint fell back to a free port');
    const records = readdirSync(path.join(home, 'endpoints')).map((f) =>
      JSON.parse(readFileSync(path.join(home, 'endpoints', f), 'utf8')),
    );
    assert.deepEqual(records.map((r) => r.url).sort(), [first.url, second.url].sort());

    // Without a workspace to match, a client picks the newest live endpoint.
    const sim = await cli(['simulate', '--steps', '5', '--rate', '0', '--run-id', 'picked'], env);
    assert.equal(sim.code, 0, sim.stderr);
    assert.match(sim.stdout, new RegExp(`to ${second.url.replace(/[/.]/g, '\\$&')}`));

    // A VS Code window whose workspace holds the client's working directory wins over a newer endpoint.
    const workspace = tmp();
    mkdirSync(path.join(workspace, 'src'));
    writeFileSync(
      path.join(home, 'endpoints', `${first.proc.pid}.json`),
      JSON.stringify({ ...records.find((r) => r.url === first.url), workspaceFolders: [workspace] }),
    );
    const inWorkspace = await new Promise<string>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'simulate', '--steps', '3', '--rate', '0', '--run-id', 'ws'], {
        cwd: path.join(workspace, 'src'),
        env: { ...process.env, ...env },
      });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.once('exit', () => resolve(out));
    });
    assert.match(inWorkspace, new RegExp(`to ${first.url.replace(/[/.]/g, '\\$&')}`));

    // An endpoint that died without cleaning up is skipped.
    second.proc.kill('SIGKILL');
    await new Promise((r) => second.proc.once('exit', r));
    assert.ok(
      existsSync(path.join(home, 'endpoints', `${second.proc.pid}.json`)),
      'a killed endpoint leaves its file behind',
    );
    const afterCrash = await cli(['simulate', '--steps', '3', '--rate', '0', '--run-id', 'after'], env);
    assert.equal(afterCrash.code, 0, afterCrash.stderr);
    assert.match(afterCrash.stdout, new RegExp(`to ${first.url.replace(/[/.]/g, '\\$&')}`));
    first.proc.kill('SIGINT');
  });

  test('a peer that stops answering pings is dropped, freeing its connection slot', async () => {
    const ep = await startEndpoint({ heartbeatMs: 100, maxConnections: 1 });
    // A raw socket completes the handshake but, unlike a websocket library, never answers a ping.
    const silent = await rawUpgrade(
      ep.server.port,
      '/v1/stream',
      { Authorization: `Bearer ${TOKEN}` },
      { keepOpen: true },
    );
    assert.equal(silent.status, 101);
    assert.equal(ep.server.connectionCount, 1);
    for (let i = 0; i < 50 && ep.server.connectionCount > 0; i++) await sleep(20);
    assert.equal(ep.server.connectionCount, 0);
    assert.equal(
      await upgradeStatus(ep.url, { authorization: `Bearer ${TOKEN}` }),
      101,
      'its slot (the only one) is free again',
    );
    silent.socket?.destroy();
    await ep.close();
  });
});
