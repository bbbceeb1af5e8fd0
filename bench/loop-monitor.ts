/**
 * How long this process's event loop goes without a turn, measured two ways by a timer that ticks
 * every few milliseconds:
 * - wall: how late each tick fires (what perf_hooks' monitorEventLoopDelay reports);
 * - CPU: how much CPU time the main thread used between two ticks, from Linux's per-thread
 *   /proc/thread-self/schedstat. On a shared machine the wall figure includes time the OS gave to
 *   other processes; the CPU figure is the work that kept the loop busy, and is what our code owns.
 */
import { readFileSync } from 'node:fs';
import { quantile } from './stats';

export interface LoopDelay {
  wallP99Ms: number;
  wallMaxMs: number;
  /** NaN where the kernel has no per-thread schedstat. */
  cpuP99Ms: number;
  cpuMaxMs: number;
}

const SCHEDSTAT = '/proc/thread-self/schedstat';

function threadCpuMs(): number {
  try {
    return Number(readFileSync(SCHEDSTAT, 'latin1').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

export function monitorLoop(intervalMs = 5): { stop(): LoopDelay } {
  const wall: number[] = [];
  const cpu: number[] = [];
  let lastWall = performance.now();
  let lastCpu = threadCpuMs();
  let timer: NodeJS.Timeout;
  const tick = (): void => {
    const w = performance.now();
    const c = threadCpuMs();
    wall.push(Math.max(0, w - lastWall - intervalMs));
    cpu.push(c - lastCpu);
    lastWall = w;
    lastCpu = c;
    timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs);
  return {
    stop(): LoopDelay {
      clearTimeout(timer);
      tick();
      clearTimeout(timer);
      return {
        wallP99Ms: quantile(wall, 0.99),
        wallMaxMs: Math.max(...wall),
        cpuP99Ms: quantile(cpu, 0.99),
        cpuMaxMs: Math.max(...cpu),
      };
    },
  };
}
