/** Runs the built CLI (bin/gradient-monitor -> dist/cli.js) as a real subprocess. */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export const BIN = path.resolve(__dirname, '..', '..', 'bin', 'gradient-monitor');

export function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const started = new Set<ChildProcess>();

/** Kills every server a test started and did not stop itself (call from `after`). */
export function stopServers(): void {
  for (const p of started) if (p.exitCode === null) p.kill('SIGKILL');
  started.clear();
}

/** Starts `gradient-monitor serve` and resolves with its URL (its first stdout line). */
export function serve(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ proc: ChildProcess; url: string; stderr: () => string }> {
  const proc = spawn(process.execPath, [BIN, 'serve', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.once('line', (url) => resolve({ proc, url, stderr: () => err }));
    proc.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}
