import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { cli, serve, stopServers } from '../helpers/cli';

after(stopServers);

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'gm-cli-'));

test('serve + simulate + inspect: a synthetic run with a spike and a NaN is recorded and summarised', async () => {
  const dir = tmp();
  const home = tmp();
  const { proc, url } = await serve(['--port', '0', '--token', 'tok', '--log-dir', dir], {
    GRADIENT_MONITOR_HOME: home,
  });
  assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/v1\/stream$/);
  const discovery = readdirSync(path.join(home, 'endpoints'));
  assert.equal(discovery.length, 1, 'serve publishes a discovery file');
  const record = JSON.parse(readFileSync(path.join(home, 'endpoints', discovery[0]), 'utf8'));
  assert.equal(record.url, url);

  // No --url/--token: simulate finds the endpoint through the discovery file.
  const sim = await cli(
    ['simulate', '--steps', '400', '--rate', '0', '--spike-at', '200', '--nan-at', '300', '--run-id', 'cli-run'],
    { GRADIENT_MONITOR_HOME: home, GRADIENT_MONITOR_URL: '', GRADIENT_MONITOR_TOKEN: '' },
  );
  assert.equal(sim.code, 0, sim.stderr);
  assert.match(sim.stdout, /sent 400 steps of run cli-run/);

  const exited = new Promise<number | null>((r) => proc.once('exit', r));
  proc.kill('SIGINT');
  assert.equal(await exited, 0);
  assert.ok(!existsSync(path.join(home, 'endpoints', discovery[0])), 'discovery file removed on exit');

  const [log] = readdirSync(dir);
  const ins = await cli(['inspect', '--json', path.join(dir, log)]);
  assert.equal(ins.code, 0, ins.stderr);
  const s = JSON.parse(ins.stdout);
  assert.equal(s.run_id, 'cli-run');
  assert.equal(s.steps, 400);
  assert.equal(s.status, 'completed');
  assert.equal(s.threshold, 10);
  assert.equal(s.threshold_exceeded.first_step, 200);
  assert.ok(s.threshold_exceeded.count >= 1);
  assert.deepEqual(s.first_nonfinite, { step: 300, layers: ['encoder.2.attn'] });
  assert.deepEqual(s.spikes, [200]);
  assert.ok(s.max_total_norm > 10);

  const text = await cli(['inspect', path.join(dir, log)]);
  assert.match(text.stdout, /first non-finite norm at step 300 in "encoder\.2\.attn"/);
});

test('simulate against a wrong token fails with a clear message', async () => {
  const { proc, url } = await serve(['--port', '0', '--token', 'right', '--log-dir', tmp()], {
    GRADIENT_MONITOR_HOME: tmp(),
  });
  const r = await cli(['simulate', '--url', url, '--token', 'wrong', '--steps', '3']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /HTTP 401/);
  proc.kill('SIGINT');
});

test('usage errors exit 2 and say what is wrong', async () => {
  const r = await cli(['serve', '--port', 'abc']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--port must be a number/);
  const u = await cli(['frobnicate']);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /unknown command "frobnicate"/);
  const none = await cli(['simulate', '--steps', '1'], {
    GRADIENT_MONITOR_HOME: tmp(),
    GRADIENT_MONITOR_URL: '',
    GRADIENT_MONITOR_TOKEN: '',
  });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no endpoint/);
});

test('inspect of a missing file fails with its name', async () => {
  const r = await cli(['inspect', '/nonexistent/run.jsonl']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/nonexistent\/run\.jsonl/);
});
