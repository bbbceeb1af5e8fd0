/**
 * A real PyTorch run (the Python client, /usr/bin/python3) whose NaN is born in a module of the
 * user's model file streams to a real endpoint; the alerts it raises, wired as the extension wires
 * them (src/vscode/pythonFixes.ts), put one diagnostic on the training script's line and one on the
 * line of that module's forward in model.py.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ScriptDiagnostics } from '../../src/runs/scriptLink';
import { startEndpoint, TOKEN } from '../helpers/endpoint';

const CLIENT = path.join(__dirname, '..', '..', 'clients', 'python');

const MODEL = `import torch
from torch import nn


class LogGate(nn.Module):
    def forward(self, x):
        return torch.log(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(4, 4), nn.Tanh()), nn.Sequential(nn.Linear(4, 4), LogGate())])
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)
`;

const TRAIN = `import sys
import torch
from gradient_monitor import Monitor
from model import Net

torch.manual_seed(0)
model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
with Monitor("origin", url=sys.argv[1], token=sys.argv[2]) as monitor:
    monitor.watch(model)
    for _ in range(2):
        model(torch.randn(8, 4)).sum().backward()
        monitor.step()
        opt.step()
        opt.zero_grad()
`;

test('a NaN born in a module of model.py is marked on that forward, besides the training script', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gm-origin-ws-'));
  writeFileSync(path.join(dir, 'model.py'), MODEL);
  writeFileSync(path.join(dir, 'train.py'), TRAIN);
  const endpoint = await startEndpoint();
  const links = new ScriptDiagnostics();
  const changed = new Set<string>();
  const subscription = endpoint.hub.subscribe('alert', (alert, run) => {
    for (const file of [links.onAlert(alert, run), links.onOrigin(alert, run)]) if (file) changed.add(file);
  });
  try {
    await promisify(execFile)('/usr/bin/python3', ['train.py', endpoint.url, TOKEN], {
      cwd: dir,
      env: { ...process.env, PYTHONPATH: CLIENT },
      timeout: 120_000,
    });
  } finally {
    subscription.dispose();
    await endpoint.close();
  }
  const model = path.join(dir, 'model.py');
  assert.deepEqual([...changed].sort(), [model, path.join(dir, 'train.py')].sort());
  const [onModel] = links.forDocument(model);
  const forwardLine = MODEL.split('\n').findIndex((l) => l.includes('return torch.log(x)')) - 1;
  assert.equal(onModel.line, forwardLine, 'the 0-based line of LogGate.forward');
  assert.match(onModel.message, /NaN born in blocks\.1\.1, LogGate\.forward, model\.py:6 \(step 0\)$/);
  const [onScript] = links.forDocument(path.join(dir, 'train.py'));
  assert.match(onScript.message, /non-finite gradient norm \(NaN\) at step 0 .*NaN born in blocks\.1\.1/);
});
