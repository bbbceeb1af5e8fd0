import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Alert } from '../../src/alerts/rules';
import { RunStore } from '../../src/runs/runStore';
import { ScriptDiagnostics, scriptOf, suggestionForScript } from '../../src/runs/scriptLink';

const SCRIPT = '/work/project/train.py';

function runWith(store: RunStore, id: string, meta: Record<string, unknown>, totals: number[] = []) {
  const run = store.getOrCreate(id);
  run.start({ type: 'run_start', run_id: id, name: `run ${id}`, meta });
  totals.forEach((total_norm, step) => run.step({ type: 'step', run_id: id, step, total_norm }));
  return run;
}

const alert = (kind: Alert['kind'], step: number, message = `${kind} at step ${step}`): Alert => ({
  kind,
  severity: kind === 'nonfinite' ? 'error' : 'warning',
  run_id: 'a',
  step,
  value: NaN,
  message,
});

test('scriptOf reads meta.script and the 1-based meta.line, ignoring what is not usable', () => {
  const store = new RunStore();
  assert.deepEqual(scriptOf(runWith(store, 'a', { script: SCRIPT, line: 42 })), { file: SCRIPT, line: 41 });
  assert.deepEqual(scriptOf(runWith(store, 'b', { script: SCRIPT, line: 0 })), { file: SCRIPT, line: undefined });
  assert.equal(scriptOf(runWith(store, 'c', { script: 'relative.py', line: 3 })), undefined);
  assert.equal(scriptOf(runWith(store, 'd', {})), undefined);
});

test('alerts of a live run become one diagnostic per kind on the script line, cleared when the run ends', () => {
  const store = new RunStore();
  const run = runWith(store, 'a', { script: SCRIPT, line: 30 });
  const links = new ScriptDiagnostics();
  assert.equal(
    links.onAlert(alert('nonfinite', 10, 'non-finite gradient norm (NaN) at step 10 in fc1.weight'), run),
    SCRIPT,
  );
  links.onAlert(alert('spike', 20), run);
  links.onAlert(alert('spike', 50), run);
  const ds = links.forDocument('/work/project/../project/train.py');
  assert.equal(ds.length, 2);
  const nan = ds.find((d) => d.kind === 'nonfinite')!;
  assert.equal(nan.line, 29);
  assert.equal(nan.severity, 'error');
  assert.equal(nan.message, 'Gradient Monitor, run run a: non-finite gradient norm (NaN) at step 10 in fc1.weight');
  const spike = ds.find((d) => d.kind === 'spike')!;
  assert.equal(spike.count, 2);
  assert.match(spike.message, /spike at step 50 \(2 times since step 20\)/);

  assert.deepEqual(links.onRun(run), []); // still live
  run.end({ type: 'run_end', run_id: 'a', status: 'completed' });
  assert.deepEqual(links.onRun(run), [SCRIPT]);
  assert.deepEqual(links.forDocument(SCRIPT), []);
});

test("a notebook cell's run puts its diagnostics on that cell, at the line in the cell", () => {
  const store = new RunStore();
  const notebook = '/work/project/explore.ipynb';
  const cell = 'vscode-notebook-cell:/work/project/explore.ipynb#W3sZmlsZQ%3D%3D';
  const run = runWith(store, 'nb', { script: notebook, line: 7, cell });
  assert.deepEqual(scriptOf(run), { file: notebook, line: 6, cell });
  assert.deepEqual(scriptOf(runWith(store, 'odd', { script: notebook, line: 7, cell: 'file:///x' })), {
    file: notebook,
    line: 6,
  });
  const links = new ScriptDiagnostics();
  assert.equal(links.onAlert(alert('nonfinite', 4), run), cell);
  assert.equal(links.forDocument(cell).length, 1);
  assert.equal(links.forDocument(cell)[0].line, 6);
  assert.deepEqual(links.forDocument(notebook), [], 'not on the notebook file itself');
  run.end({ type: 'run_end', run_id: 'nb', status: 'completed' });
  assert.deepEqual(links.onRun(run), [cell]);
});

test('a dismissed diagnostic stays away for the rest of its run', () => {
  const store = new RunStore();
  const run = runWith(store, 'a', { script: SCRIPT, line: 5 });
  const links = new ScriptDiagnostics();
  links.onAlert(alert('threshold', 3), run);
  const [d] = links.forDocument(SCRIPT);
  assert.equal(links.dismiss(d.key), SCRIPT);
  assert.equal(links.onAlert(alert('threshold', 9), run), undefined);
  assert.deepEqual(links.forDocument(SCRIPT), []);
});

test('runs without a script or no longer live raise no diagnostics', () => {
  const store = new RunStore();
  const links = new ScriptDiagnostics();
  assert.equal(links.onAlert(alert('spike', 1), runWith(store, 'x', {})), undefined);
  const ended = runWith(store, 'y', { script: SCRIPT, line: 1 });
  ended.end({ type: 'run_end', run_id: 'y', status: 'failed' });
  assert.equal(links.onAlert(alert('spike', 1), ended), undefined);
});

test("a script's max_norm suggestion comes from its own most recent run", () => {
  const store = new RunStore({
    now: (() => {
      let t = 0;
      return () => ++t;
    })(),
  });
  const healthy = Array.from({ length: 100 }, (_, i) => 1 + (i % 10) / 10); // 1.0 .. 1.9
  runWith(
    store,
    'other',
    { script: '/elsewhere/train.py' },
    healthy.map((v) => v * 100),
  );
  runWith(
    store,
    'old',
    { script: SCRIPT },
    healthy.map((v) => v * 10),
  );
  const recent = runWith(store, 'new', { script: SCRIPT }, [...healthy, 500, NaN]);
  const s = suggestionForScript(store.all(), SCRIPT);
  assert.equal(s?.run, recent);
  assert.equal(s?.maxNorm, 2);
  assert.equal(suggestionForScript(store.all(), '/nowhere.py'), undefined);
});
