/**
 * Who gets in: every refused upgrade with its exact status line and body (read off a raw TCP
 * socket), network binds without a chosen token, and run ids that try to write outside the log
 * folder or through a planted symbolic link.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Hub } from '../../src/ingest/hub';
import { RunStore } from '../../src/runs/runStore';
import { GradientServer } from '../../src/server/server';
import { cli, serve, stopServers } from '../helpers/cli';
import { connect, startEndpoint, TestEndpoint, TOKEN } from '../helpers/endpoint';
import { rawUpgrade } from '../helpers/rawHttp';

after(stopServers);

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'gm-sec-'));
const UNAUTHORIZED = ['HTTP/1.1 401 Unauthorized', '{"error":"missing or wrong token"}'];
const BAD_HOST = ['HTTP/1.1 403 Forbidden', '{"error":"forbidden Host header: connect through a loopback address"}'];
const forbiddenOrigin = (o: string): string[] => [
  'HTTP/1.1 403 Forbidden',
  `{"error":"origin ${o} is not allowed (gradientMonitor.allowedOrigins)"}`,
];
const NOT_FOUND = ['HTTP/1.1 404 Not Found', '{"error":"not found: the stream is at /v1/stream"}'];
const SWITCHING = ['HTTP/1.1 101 Switching Protocols', ''];

describe('upgrade requests: exact answers', () => {
  let ep: TestEndpoint;
  before(async () => {
    ep = await startEndpoint({ allowedOrigins: ['vscode-webview://trusted-panel'] });
  });
  after(() => ep.close());

  const bearer = { Authorization: `Bearer ${TOKEN}` };
  const cases: [string, string, Record<string, string | null>, string[]][] = [
    ['right token in the header', '/v1/stream', bearer, SWITCHING],
    ['right token in ?token=', `/v1/stream?token=${TOKEN}`, {}, SWITCHING],
    ['no token', '/v1/stream', {}, UNAUTHORIZED],
    ['wrong token', '/v1/stream', { Authorization: 'Bearer not-the-token' }, UNAUTHORIZED],
    ['token one character short', '/v1/stream', { Authorization: `Bearer ${TOKEN.slice(0, -1)}` }, UNAUTHORIZED],
    ['token with a suffix', '/v1/stream', { Authorization: `Bearer ${TOKEN}x` }, UNAUTHORIZED],
    ['token without "Bearer"', '/v1/stream', { Authorization: TOKEN }, UNAUTHORIZED],
    ['token as Basic credentials', '/v1/stream', { Authorization: `Basic ${TOKEN}` }, UNAUTHORIZED],
    ['token followed by more words', '/v1/stream', { Authorization: `Bearer ${TOKEN} extra` }, UNAUTHORIZED],
    ['token in a cookie', '/v1/stream', { Cookie: `token=${TOKEN}` }, UNAUTHORIZED],
    ['token as websocket subprotocol', '/v1/stream', { 'Sec-WebSocket-Protocol': TOKEN }, UNAUTHORIZED],
    ['token in ?access_token=', `/v1/stream?access_token=${TOKEN}`, {}, UNAUTHORIZED],
    ['token in the path', `/v1/stream/${TOKEN}`, {}, NOT_FOUND],
    [
      'right ?token= but a wrong header (the header wins)',
      `/v1/stream?token=${TOKEN}`,
      { Authorization: 'Bearer wrong' },
      UNAUTHORIZED,
    ],
    [
      'a web page',
      '/v1/stream',
      { ...bearer, Origin: 'https://evil.example' },
      forbiddenOrigin('https://evil.example'),
    ],
    [
      'a page on localhost',
      '/v1/stream',
      { ...bearer, Origin: 'http://localhost:3000' },
      forbiddenOrigin('http://localhost:3000'),
    ],
    ['a sandboxed page (Origin: null)', '/v1/stream', { ...bearer, Origin: 'null' }, forbiddenOrigin('null')],
    [
      'another webview',
      '/v1/stream',
      { ...bearer, Origin: 'vscode-webview://other' },
      forbiddenOrigin('vscode-webview://other'),
    ],
    ['an allowed origin', '/v1/stream', { ...bearer, Origin: 'vscode-webview://trusted-panel' }, SWITCHING],
    [
      'a web page without a token (origin is checked first)',
      '/v1/stream',
      { Origin: 'https://evil.example' },
      forbiddenOrigin('https://evil.example'),
    ],
    ['DNS rebinding: foreign Host', '/v1/stream', { ...bearer, Host: 'attacker.example:7451' }, BAD_HOST],
    ['Host: localhost.attacker.example', '/v1/stream', { ...bearer, Host: 'localhost.attacker.example' }, BAD_HOST],
    ['Host: 127.0.0.1.nip.io', '/v1/stream', { ...bearer, Host: '127.0.0.1.nip.io' }, BAD_HOST],
    [
      'Host: 127.0.0.1:80@attacker.example',
      '/v1/stream',
      { ...bearer, Host: '127.0.0.1:80@attacker.example' },
      BAD_HOST,
    ],
    ['Host: [::1]attacker', '/v1/stream', { ...bearer, Host: '[::1]attacker:7451' }, BAD_HOST],
    ['Host: 0.0.0.0', '/v1/stream', { ...bearer, Host: '0.0.0.0:7451' }, BAD_HOST],
    ['empty Host', '/v1/stream', { ...bearer, Host: '' }, BAD_HOST],
    ['no Host header', '/v1/stream', { ...bearer, host: null }, BAD_HOST],
    ['Host: localhost', '/v1/stream', { ...bearer, Host: 'localhost:7451' }, SWITCHING],
    ['Host: [::1]', '/v1/stream', { ...bearer, Host: '[::1]:7451' }, SWITCHING],
    ['other path', '/v2/stream', bearer, NOT_FOUND],
    ['percent-encoded path', '/v1/%73tream', bearer, NOT_FOUND],
  ];
  for (const [name, p, headers, [statusLine, body]] of cases) {
    test(`${name}: ${statusLine.slice(9)}`, async (t) => {
      const r = await rawUpgrade(ep.server.port, p, headers);
      assert.equal(r.statusLine, statusLine);
      assert.equal(r.body, body);
      if (r.status !== 101) assert.match(r.headers, /Connection: close/i);
      t.diagnostic(`${r.statusLine} ${r.body}`);
    });
  }

  test('refused requests never reach the run store', () => {
    assert.equal(ep.hub.store.size, 0);
  });
});

describe('network binds', () => {
  const hub = (): Hub => new Hub(new RunStore(), tmp());

  test('a non-loopback bind with a generated token is refused by the server', () => {
    assert.throws(
      () => new GradientServer(hub(), { host: '0.0.0.0', token: 'a-generated-token-long-enough' }),
      /refusing to listen on 0\.0\.0\.0, which the network can reach, with a generated token/,
    );
    assert.throws(
      () => new GradientServer(hub(), { host: '::', token: 'a-generated-token-long-enough' }),
      /refusing to listen on ::/,
    );
    assert.throws(() => new GradientServer(hub(), { host: '192.168.1.10', token: 'x'.repeat(32) }), /generated token/);
  });

  test('a non-loopback bind with a short chosen token is refused', () => {
    assert.throws(
      () => new GradientServer(hub(), { host: '0.0.0.0', token: 'short', explicitToken: true }),
      /token of 5 characters: a network-reachable endpoint needs at least 16/,
    );
  });

  test('loopback binds need no chosen token', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2'])
      assert.doesNotThrow(() => new GradientServer(hub(), { host, token: 't' }).close());
  });

  test('serve refuses --host 0.0.0.0 without --token, and serves with one (any Host accepted, the token still applies)', async () => {
    const refused = await cli(['serve', '--host', '0.0.0.0', '--port', '0', '--log-dir', tmp()], {
      GRADIENT_MONITOR_HOME: tmp(),
      GRADIENT_MONITOR_TOKEN: '',
    });
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^gradient-monitor: refusing to listen on 0\.0\.0\.0, which the network can reach, with a generated token: set a token of your own/,
    );
    const short = await cli(['serve', '--host', '0.0.0.0', '--port', '0', '--token', 'short', '--log-dir', tmp()], {
      GRADIENT_MONITOR_HOME: tmp(),
    });
    assert.equal(short.code, 1);
    assert.match(short.stderr, /needs at least 16/);

    const token = 'a-chosen-network-token';
    const { url } = await serve(['--host', '0.0.0.0', '--port', '0', '--token', token, '--log-dir', tmp()], {
      GRADIENT_MONITOR_HOME: tmp(),
    });
    const port = Number(new URL(url).port);
    assert.equal(
      (await rawUpgrade(port, '/v1/stream', { Authorization: `Bearer ${token}`, Host: `gpu-box.lan:${port}` })).status,
      101,
    );
    assert.equal((await rawUpgrade(port, '/v1/stream', { Host: `gpu-box.lan:${port}` })).status, 401);
    assert.equal(
      (await rawUpgrade(port, '/v1/stream', { Authorization: `Bearer ${token}`, Origin: 'https://evil.example' }))
        .status,
      403,
    );
  });
});

describe('run ids against the log folder', () => {
  const hostile = [
    '../../x',
    '../escaped',
    '/etc/passwd',
    '/tmp/abs',
    'C:\\Windows\\System32\\evil',
    '\\\\server\\share\\x',
    'CON',
    'nul',
    'COM1.log',
    'LPT9',
    'aux.jsonl',
    '..',
    '.',
    './.',
    'a/../../b',
    'x\u0000y',
    '~/.bashrc',
    '%2e%2e%2fx',
    '.gradient-monitor',
  ];

  test('hostile run ids each get their own file, directly inside the log folder', async () => {
    const parent = tmp();
    const logDir = path.join(parent, 'runs');
    const ep = await startEndpoint({}, {}, logDir);
    const c = await connect(ep.url);
    c.ws.send(JSON.stringify(hostile.map((run_id, i) => ({ type: 'step', run_id, step: 0, total_norm: i, seq: i }))));
    assert.deepEqual(await c.next(), { type: 'ack', seq: hostile.length - 1 });
    c.ws.close();
    await ep.close();
    assert.deepEqual(readdirSync(parent), ['runs'], 'nothing written beside the log folder');
    const files = readdirSync(logDir);
    assert.equal(files.length, hostile.length, 'one file per id, no two ids share one');
    for (const f of files) {
      assert.match(f, /^[A-Za-z0-9_][A-Za-z0-9._-]*-[0-9a-f]{10}\.jsonl$/);
      assert.ok(!/^(con|nul|com\d|lpt\d|aux)[.-]/i.test(f), f);
      const line = JSON.parse(readFileSync(path.join(logDir, f), 'utf8'));
      assert.equal(f, path.basename(ep.hub.logPath(line.run_id)), 'each file holds its own run');
    }
    assert.ok(!existsSync(path.join(parent, 'x')) && !existsSync(path.resolve(logDir, '../../x')));
  });

  test('a log name planted as a symbolic link is refused: the target is untouched and the client is told', async () => {
    const logDir = tmp();
    const target = path.join(tmp(), 'bashrc');
    writeFileSync(target, 'precious\n');
    const ep = await startEndpoint({}, {}, logDir);
    mkdirSync(logDir, { recursive: true });
    symlinkSync(target, ep.hub.logPath('train'));
    const c = await connect(ep.url);
    c.ws.send(JSON.stringify({ type: 'step', run_id: 'train', step: 0, total_norm: 1, seq: 0 }));
    const notice = (await c.next()) as { code: string; message: string; run_id: string };
    assert.equal(notice.code, 'recording_failed');
    assert.equal(notice.run_id, 'train');
    assert.match(
      notice.message,
      /cannot write the log of run train: refusing to write .*train-[0-9a-f]{10}\.jsonl: it is a symbolic link; messages are kept in memory and acknowledged once written/,
    );
    assert.equal(readFileSync(target, 'utf8'), 'precious\n');
    assert.equal(ep.hub.store.get('train')?.stepCount, 1, 'the live view still has the step');
    c.ws.terminate();
    await ep.server.close();
    assert.equal(
      await ep.hub.close(100),
      1,
      'closing while the log is refused gives up on the unwritten line, and says so',
    );
  });
});
