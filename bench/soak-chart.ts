/** The soak benchmark's samples and their chart: memory, event-loop delay, throughput and CPU over time. */
import { svgCharts } from './svgChart';

export interface Sample {
  minutes: number;
  rssMB: number;
  heapUsedMB: number;
  externalMB: number;
  loopP50ms: number;
  loopP99ms: number;
  loopMaxMs: number;
  stepsPerSecond: number;
  /** The endpoint process's CPU time over the window, in % of one core. */
  cpuPercent: number;
  clientPending: number;
}

export interface SoakSetup {
  runs: number;
  rate: number;
  minutes: number;
  /** Event-loop delay of the idle endpoint before the load, in ms. */
  idle: { p99: number; max: number };
}

export function soakChart(samples: readonly Sample[], o: SoakSetup): string {
  const at = (f: (s: Sample) => number): [number, number][] => samples.map((s) => [s.minutes, f(s)]);
  const end = samples[samples.length - 1]?.minutes ?? 0;
  return svgCharts([
    {
      title: `Endpoint memory: ${o.runs} runs x ${o.rate} steps/s, ${o.minutes} min`,
      xLabel: 'minutes',
      yLabel: 'MB',
      series: [
        { name: 'RSS', color: '#1f77b4', points: at((s) => s.rssMB) },
        { name: 'JS heap used', color: '#d62728', points: at((s) => s.heapUsedMB) },
        { name: 'external + buffers', color: '#2ca02c', points: at((s) => s.externalMB) },
      ],
    },
    {
      title: `Endpoint event-loop delay per 5 s window (idle machine before the soak: p99 ${o.idle.p99.toFixed(1)} ms, max ${o.idle.max.toFixed(1)} ms)`,
      xLabel: 'minutes',
      yLabel: 'ms',
      series: [
        { name: 'p50', color: '#2ca02c', points: at((s) => s.loopP50ms) },
        { name: 'p99', color: '#ff7f0e', points: at((s) => s.loopP99ms) },
        { name: 'max', color: '#d62728', points: at((s) => s.loopMaxMs), dashed: true },
      ],
    },
    {
      title: 'Steps applied per second (all runs)',
      xLabel: 'minutes',
      yLabel: 'steps/s',
      series: [
        { name: 'applied', color: '#1f77b4', points: at((s) => s.stepsPerSecond) },
        {
          name: 'target',
          color: '#888',
          points: [
            [0, o.runs * o.rate],
            [end, o.runs * o.rate],
          ],
          dashed: true,
        },
      ],
    },
    {
      title: 'Endpoint CPU (% of one core)',
      xLabel: 'minutes',
      yLabel: '%',
      series: [{ name: 'endpoint process', color: '#9467bd', points: at((s) => s.cpuPercent) }],
    },
  ]);
}
