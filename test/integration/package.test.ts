/**
 * The marketplace package (`npm run package`): small, and carrying the Python client complete enough
 * that an interpreter with nothing installed imports it through the bootstrap folder terminals get.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

const REPO = path.resolve(__dirname, '..', '..');
const VSIX = path.join(REPO, 'dist', 'gradient-monitor.vsix');
const PYTHON = '/usr/bin/python3';

const zipNames = (file: string): string[] =>
  JSON.parse(
    execFileSync(
      PYTHON,
      ['-c', 'import json,sys,zipfile; print(json.dumps(zipfile.ZipFile(sys.argv[1]).namelist()))', file],
      {
        encoding: 'utf8',
      },
    ),
  ) as string[];

test('npm run package makes a .vsix under 2 MB that holds the Python client, which imports with nothing installed', () => {
  execFileSync('npm', ['run', '--silent', 'package'], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 300_000,
  });
  const size = statSync(VSIX).size;
  assert.ok(size < 2 * 1024 * 1024, `the .vsix is ${(size / 1024 / 1024).toFixed(2)} MB`);

  const names = zipNames(VSIX);
  for (const file of [
    'extension/clients/python/bootstrap/gradient_monitor/__init__.py',
    'extension/clients/python/gradient_monitor/__init__.py',
    'extension/clients/python/gradient_monitor/stdlib_websocket.py',
    'extension/clients/python/gradient_monitor/integrations/lightning.py',
    // The dashboard's Reproduce action reads it from the extension (src/runs/replay.ts).
    'extension/clients/python/gradient_monitor/replay_template.txt',
    'extension/clients/python/pyproject.toml',
  ])
    assert.ok(names.includes(file), `${file} is in the .vsix`);
  assert.deepEqual(
    names.filter((n) => /__pycache__|\/tests\/|\.pyc$/.test(n)),
    [],
    'no caches or tests',
  );

  // Unpacked as VS Code installs it, the bundled client imports in a bare interpreter (-S: no site-packages).
  const unpacked = mkdtempSync(path.join(os.tmpdir(), 'gm-vsix-'));
  execFileSync(PYTHON, ['-m', 'zipfile', '-e', VSIX, unpacked]);
  const out = execFileSync(
    PYTHON,
    [
      '-S',
      '-c',
      'from gradient_monitor import Monitor, __version__; import gradient_monitor; print(__version__, gradient_monitor.__file__)',
    ],
    {
      encoding: 'utf8',
      cwd: unpacked,
      env: { PATH: process.env.PATH, PYTHONPATH: path.join(unpacked, 'extension', 'clients', 'python', 'bootstrap') },
    },
  );
  const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
  assert.equal(
    out.trim(),
    `${version} ${path.join(unpacked, 'extension', 'clients', 'python', 'gradient_monitor', '__init__.py')}`,
  );
});
