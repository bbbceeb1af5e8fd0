/**
 * Logs written by the real libraries in the framework venv (scripts/ensure-venv.sh): PyTorch's and
 * tensorboardX's SummaryWriter, tf.summary, the Keras TensorBoard callback, Lightning's
 * TensorBoardLogger and CSVLogger. test/python/write_real_logs.py writes all of them in one Python
 * process (TensorFlow takes seconds to import) into a temp folder, with a manifest of what each
 * writer was given.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

type Scalars = [number, number | string][];

export interface RealLogs {
  torch: { folder: string; scalars: Record<string, Scalars> };
  restart: { folder: string; grad_norm: Scalars };
  tensorboardx: { folder: string; grad_norm: Scalars };
  tf2: { folder: string; scalars: Record<string, Scalars> };
  keras: { folder: string; grad_norm_values: number[] };
  lightning: { tb_folder: string; csv: string; grad_norms: Record<string, number>[]; lr: number };
}

/** The manifest's value: JSON has no NaN, so non-finite values are written as Python's repr. */
export function manifestNumber(v: number | string): number {
  if (typeof v === 'number') return v;
  return { nan: NaN, inf: Infinity, '-inf': -Infinity }[v] ?? Number(v);
}

/** Writes them into `out` (call from a `before` hook: it takes about 20 s). */
export function writeRealLogs(out: string): RealLogs {
  const python = execFileSync('bash', [path.join(ROOT, 'scripts', 'ensure-venv.sh')], { encoding: 'utf8' }).trim();
  execFileSync(python, [path.join(ROOT, 'test', 'python', 'write_real_logs.py'), out], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 240_000,
  });
  return JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as RealLogs;
}
