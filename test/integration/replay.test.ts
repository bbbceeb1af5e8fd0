/**
 * The dashboard's Reproduce lines (src/runs/replay.ts) on a real snapshot: the venv's PyTorch trains
 * a real model whose gradient goes NaN in backward (sqrt at 0) with `snapshot_nonfinite=True`, the
 * recorded log is loaded as the dashboard loads it, and the lines, with their two "..." filled in as
 * a user would, rerun the step under detect_anomaly, which names the op and its forward line. The
 * CLI (`python -m gradient_monitor replay FILE`) prints the very same lines.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { loadRun } from '../../src/runs/loadRun';
import { REPLAY_TEMPLATE, replayLines, replayOf } from '../../src/runs/replay';

const ROOT = path.resolve(__dirname, '..', '..');
const CLIENT = path.join(ROOT, 'clients', 'python');
const MODELS = path.join(CLIENT, 'tests', 'nonfinite_models.py');

const TRAIN = `
import torch
from torch import nn
import nonfinite_models as nm
from gradient_monitor import Monitor

torch.manual_seed(0)
model = nm.DistanceNet()
x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
x[3] = 0.0  # fc has no bias: row 3 reaches Distance as zeros; sqrt(0) is fine, its gradient is not
with Monitor("replay", log_dir="logs", run_id="replay-run") as monitor:
    monitor.watch(model, trace_nonfinite=True, snapshot_nonfinite=True)
    nn.functional.cross_entropy(model(x), y).backward()
    monitor.step()
`;

let dir: string;
let python: string;
let env: NodeJS.ProcessEnv;

before(() => {
  python = execFileSync('bash', [path.join(ROOT, 'scripts', 'ensure-venv.sh')], { encoding: 'utf8' }).trim();
  dir = mkdtempSync(path.join(tmpdir(), 'gm-replay-'));
  // A temp HOME: no discovery files, so the run records to its local log only.
  env = { ...process.env, HOME: dir, PYTHONPATH: [CLIENT, path.dirname(MODELS)].join(path.delimiter) };
  execFileSync(python, ['-c', TRAIN], { cwd: dir, env, stdio: 'pipe' });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('the Reproduce lines rerun the saved step under detect_anomaly, which names the op that made the NaN', async () => {
  const logs = path.join(dir, 'logs');
  const log = readdirSync(logs).find((f) => f.endsWith('.jsonl'));
  assert.ok(log, `a log in ${logs}`);
  const { run } = await loadRun(path.join(logs, log));
  assert.ok(run);
  const replay = replayOf(run);
  assert.deepEqual(replay, {
    runId: 'replay-run',
    step: 0,
    snapshot: path.join(dir, '.gradient-monitor', 'snapshots', 'replay-run', 'step-0.pt'),
  });

  const lines = replayLines(readFileSync(path.join(ROOT, ...REPLAY_TEMPLATE), 'utf8'), replay);
  const cli = execFileSync(python, ['-m', 'gradient_monitor', 'replay', replay.snapshot], { cwd: dir, env });
  assert.equal(cli.toString(), lines, 'the CLI and the dashboard fill the one template alike');

  // What the user fills in: the model as in training, the loss on its output.
  const filled = lines
    .replace(/^model = \.\.\..*$/m, 'import nonfinite_models as nm\nmodel = nm.DistanceNet()')
    .replace(
      /^( +)loss = \.\.\..*$/m,
      '$1loss = torch.nn.functional.cross_entropy(out, torch.zeros(len(out), dtype=torch.long))',
    );
  assert.notEqual(filled, lines);
  const script = path.join(dir, 'replay.py');
  writeFileSync(script, filled);
  const r = spawnSync(python, [script], { cwd: dir, env, encoding: 'utf8' });
  assert.notEqual(r.status, 0, 'detect_anomaly stops the backward that makes the NaN');
  // sqrt(0)'s gradient is inf; the backward of x * x turns inf * 0 into NaN.
  assert.match(r.stderr, /RuntimeError: Function 'MulBackward0' returned nan values/);
  // Its warning shows the forward that made that op: Distance.forward's line in the model file.
  const sqrtLine =
    readFileSync(MODELS, 'utf8')
      .split('\n')
      .findIndex((l) => l.includes('torch.sqrt(')) + 1;
  assert.ok(
    r.stderr.includes(`${MODELS}", line ${sqrtLine}, in forward`),
    `the traceback points at ${MODELS}:${sqrtLine}\n${r.stderr}`,
  );
});

test('awkward paths and run ids fill the template as the same valid Python literals on both sides', () => {
  const replay = {
    runId: 'run "x"\n# not a comment',
    step: 12,
    snapshot: 'C:\\runs\\it\'s "here"\u00e9\u2028/step-12.pt',
  };
  const lines = replayLines(readFileSync(path.join(ROOT, ...REPLAY_TEMPLATE), 'utf8'), replay);
  const check = `
import ast, json, sys
from gradient_monitor.snapshot import fill_replay_template
replay = json.loads(sys.argv[1])
text = fill_replay_template(replay["snapshot"], replay["step"], replay["runId"])
load = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "load")
assert ast.literal_eval(load.args[0]) == replay["snapshot"], load.args[0]
sys.stdout.write(text)
`;
  const out = execFileSync(python, ['-c', check, JSON.stringify(replay)], { env, encoding: 'utf8' });
  assert.equal(out, lines);
  assert.equal(
    lines.split('\n')[0],
    `# Step 12 of run ${JSON.stringify(replay.runId)}, its first non-finite step, rerun under detect_anomaly.`,
  );
});
