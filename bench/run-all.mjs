// `npm run bench`: every benchmark in turn. `--quick` is the CI smoke mode: tiny sizes, one repeat,
// and nothing asserted about time — it only proves each benchmark still runs. Without it, the full
// runs whose medians go into BENCHMARKS.md (results also saved as JSON under bench/results/).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const quick = process.argv.includes('--quick');

/** The framework venv's python (built on first use), else Debian's python3 with its torch 1.13. */
function venvPython() {
  const r = spawnSync('bash', ['scripts/ensure-venv.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return r.status === 0 ? r.stdout.trim() : '/usr/bin/python3';
}
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
mkdirSync('bench/results', { recursive: true });

const benches = [
  {
    name: 'ingest',
    cmd: process.execPath,
    args: ['--import', 'tsx', 'bench/ingest.ts', ...(quick ? ['--quick'] : ['--out', 'bench/results/ingest.json'])],
  },
  {
    name: 'dashboard',
    cmd: process.execPath,
    args: [
      '--import',
      'tsx',
      'bench/dashboard.ts',
      ...(quick ? ['--quick'] : ['--out', 'bench/results/dashboard.json']),
    ],
  },
  {
    name: 'dashboard-scaling',
    cmd: process.execPath,
    args: [
      '--import',
      'tsx',
      'bench/dashboard.ts',
      '--scaling',
      ...(quick ? ['--quick'] : ['--samples', '1', '--out', 'bench/results/dashboard-scaling.json']),
    ],
  },
  {
    name: 'latency',
    cmd: process.execPath,
    args: ['--import', 'tsx', 'bench/latency.ts', ...(quick ? ['--quick'] : ['--out', 'bench/results/latency.json'])],
  },
  {
    name: 'memory',
    cmd: process.execPath,
    args: [
      '--expose-gc',
      '--import',
      'tsx',
      'bench/memory.ts',
      ...(quick ? ['--quick'] : ['--out', 'bench/results/memory.json']),
    ],
  },
  {
    name: 'log-loading',
    cmd: process.execPath,
    args: [
      '--import',
      'tsx',
      'bench/log-loading.ts',
      ...(quick ? ['--quick'] : ['--out', 'bench/results/log-loading.json']),
    ],
  },
  {
    name: 'importers',
    cmd: process.execPath,
    args: [
      '--import',
      'tsx',
      'bench/importers.ts',
      ...(quick ? ['--quick'] : ['--out', 'bench/results/importers.json']),
    ],
  },
  {
    name: 'python-overhead',
    // torch 2.x and the framework integrations: the venv of scripts/ensure-venv.sh.
    cmd: venvPython(),
    args: [
      'bench/python_overhead.py',
      ...(quick
        ? [
            '--models',
            '1M',
            '--rounds',
            '2',
            '--op-repeats',
            '1',
            '--integration-steps',
            '4',
            '--integration-rounds',
            '1',
          ]
        : ['--json', 'bench/results/python-overhead.json']),
    ],
  },
];

let failed = 0;
for (const b of benches) {
  if (only && !only.split(',').includes(b.name)) continue;
  console.log(`\n=== bench: ${b.name}${quick ? ' (quick)' : ''}`);
  const r = spawnSync(b.cmd, b.args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.log(`bench ${b.name} failed (exit ${r.status ?? r.signal})`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
