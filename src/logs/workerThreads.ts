/** Starting this package's worker threads, from the bundle (dist/) or from source (tests, benchmarks). */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { ResourceLimits, Worker } from 'node:worker_threads';

export function startWorker(script: string, resourceLimits?: ResourceLimits, workerData?: unknown): Worker {
  // From source (tests and benchmarks run under tsx) the worker needs tsx's loader as well.
  return script.endsWith('.ts')
    ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(script)});`, { eval: true, resourceLimits, workerData })
    : new Worker(script, { resourceLimits, workerData, execArgv: [] });
}

/**
 * The bundled worker `name` (without extension) next to the bundle (dist/), or its TypeScript source
 * in `sourceDir` when run from source (tests, benchmarks); undefined when neither is there.
 */
export function bundledWorkerScript(name: string, sourceDir = __dirname): string | undefined {
  for (const file of [`${name}.js`, `${name}.ts`]) {
    const candidate = path.join(sourceDir, file);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
