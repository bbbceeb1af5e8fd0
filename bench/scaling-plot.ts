/**
 * How each benchmark grows with steps, layers and runs, drawn from the results JSON that the full
 * benchmark runs leave under bench/results/ (whichever are there) into bench/results/scaling.svg.
 * Sizes span decades, so x (and the times that span decades) are plotted as log10.
 *   node --import tsx bench/scaling-plot.ts [--results bench/results]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Chart, LineSeries, svgCharts } from './svgChart';

const { values } = parseArgs({ options: { results: { type: 'string' } } });
const dir = values.results ?? path.join(__dirname, 'results');
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function read<T>(name: string): T | undefined {
  const file = path.join(dir, name);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
}

interface IngestRow {
  layers: number;
  runs: number;
  format: string;
  bare: { stepsPerSecond: number };
  endpoint: { stepsPerSecond: number };
}

function ingestChart(rows: IngestRow[]): Chart {
  const lines = rows.filter((r) => r.format === 'ndjson');
  const layerCounts = [...new Set(lines.map((r) => r.layers))];
  const series: LineSeries[] = layerCounts.flatMap((layers, i) => {
    const mine = lines.filter((r) => r.layers === layers).sort((a, b) => a.runs - b.runs);
    return [
      {
        name: `endpoint, ${layers} layers`,
        color: COLORS[i],
        dots: true,
        points: mine.map((r) => [Math.log10(r.runs), Math.log10(r.endpoint.stepsPerSecond)] as [number, number]),
      },
      {
        name: `bare ws, ${layers} layers`,
        color: COLORS[i],
        dashed: true,
        points: mine.map((r) => [Math.log10(r.runs), Math.log10(r.bare.stepsPerSecond)] as [number, number]),
      },
    ];
  });
  return {
    title: 'Ingest: steps/s by concurrent runs (solid: endpoint, dashed: bare ws ceiling)',
    xLabel: 'log10 concurrent runs (1, 8, 64)',
    yLabel: 'log10 steps/s',
    series,
  };
}

interface MemorySample {
  steps: number;
  heapUsedMB: number;
  arrayBuffersMB: number;
  rssMB: number;
}

function memoryChart(m: { steps: number; layers: number; samples: MemorySample[] }): Chart {
  const at = (f: (s: MemorySample) => number): [number, number][] => m.samples.map((s) => [s.steps / 1e6, f(s)]);
  return {
    title: `Memory of one ${m.steps / 1e6}M-step run with ${m.layers} layers, through the Hub`,
    xLabel: 'steps (millions)',
    yLabel: 'MB',
    series: [
      { name: 'RSS', color: COLORS[0], points: at((s) => s.rssMB) },
      { name: 'array buffers', color: COLORS[2], points: at((s) => s.arrayBuffersMB) },
      { name: 'JS heap used', color: COLORS[1], points: at((s) => s.heapUsedMB) },
    ],
  };
}

interface DashboardRow {
  steps: number;
  layers: number;
  ours: { firstDrawMs: number; updateMs: number };
  chartjs?: { firstDrawMs: number; updateMs: number };
  uplot?: { firstDrawMs: number; updateMs: number };
}

function dashboardChart(rows: DashboardRow[], measure: 'firstDrawMs' | 'updateMs'): Chart {
  const layerCounts = [...new Set(rows.map((r) => r.layers))];
  const pick = (variant: 'ours' | 'chartjs' | 'uplot', layers: number): [number, number][] =>
    rows
      .filter((r) => r.layers === layers && r[variant])
      .sort((a, b) => a.steps - b.steps)
      .map((r) => [Math.log10(r.steps), Math.log10(Math.max(0.1, r[variant]![measure]))]);
  const series: LineSeries[] = layerCounts.flatMap((layers, i) => [
    { name: `ours, ${layers} layers`, color: COLORS[0], dashed: i > 0, dots: true, points: pick('ours', layers) },
    {
      name: `chart.js raw, ${layers} layers`,
      color: COLORS[1],
      dashed: i > 0,
      dots: true,
      points: pick('chartjs', layers),
    },
    { name: `uPlot, ${layers} layers`, color: COLORS[2], dashed: i > 0, dots: true, points: pick('uplot', layers) },
  ]);
  const what = measure === 'firstDrawMs' ? 'first draw' : 'per update (100 steps)';
  return {
    title: `Dashboard: ${what} by run length (lines end where a baseline took over 60 s)`,
    xLabel: 'log10 steps',
    yLabel: 'log10 ms',
    series,
    xMin: 4,
  };
}

interface LogLoadingResults {
  steps: number;
  logMB: number;
  results: Record<string, { ms: number | null }[]>;
}

/** MB/s of each method at each log size it could load (a method that failed has no point there). */
function logLoadingChart(runs: LogLoadingResults[]): Chart {
  const methods = [...new Set(runs.flatMap((r) => Object.keys(r.results)))].filter((m) => m !== 'tensorboard-loader');
  const mbPerSecond = (r: LogLoadingResults, method: string): number | undefined => {
    const times = (r.results[method] ?? [])
      .map((x) => x.ms)
      .filter((ms): ms is number => typeof ms === 'number')
      .sort((a, b) => a - b);
    return times.length ? r.logMB / (times[Math.floor(times.length / 2)] / 1000) : undefined;
  };
  return {
    title: 'Log loading: MB/s by log length (8 layers; the naive reads cannot load 10^7 steps)',
    xLabel: 'log10 steps',
    yLabel: 'MB/s',
    xMin: 5.5,
    series: methods.map((method, i) => ({
      name: method,
      color: COLORS[i % COLORS.length],
      dots: true,
      points: runs.flatMap((r) => {
        const v = mbPerSecond(r, method);
        return v === undefined ? [] : [[Math.log10(r.steps), v] as [number, number]];
      }),
    })),
  };
}

interface PythonResults {
  models: Record<string, { params: number; op_seconds: Record<string, { median: number }> }>;
}

function pythonChart(p: PythonResults): Chart {
  const models = Object.values(p.models).sort((a, b) => a.params - b.params);
  const variants = Object.keys(models[0]?.op_seconds ?? {}).filter((v) => v !== 'none');
  return {
    title: 'Python client: cost of the reporting call by model size (CPU, 1 thread)',
    xLabel: 'log10 parameters',
    yLabel: 'log10 microseconds per call',
    xMin: 6,
    series: variants.map((v, i) => ({
      name: v,
      color: COLORS[i % COLORS.length],
      dots: true,
      points: models.map((m) => [Math.log10(m.params), Math.log10(m.op_seconds[v].median * 1e6)] as [number, number]),
    })),
  };
}

const charts: Chart[] = [];
const ingest = read<{ rows: IngestRow[] }>('ingest.json');
if (ingest) charts.push(ingestChart(ingest.rows));
const memory = read<{ steps: number; layers: number; samples: MemorySample[] }>('memory.json');
if (memory) charts.push(memoryChart(memory));
const dashboard = read<{ rows: DashboardRow[] }>('dashboard-scaling.json');
if (dashboard) charts.push(dashboardChart(dashboard.rows, 'firstDrawMs'), dashboardChart(dashboard.rows, 'updateMs'));
const logLoading = ['log-loading.json', 'log-loading-10m.json']
  .map((f) => read<LogLoadingResults>(f))
  .filter((r): r is LogLoadingResults => r !== undefined && r.steps >= 1e5);
if (logLoading.length) charts.push(logLoadingChart(logLoading.sort((a, b) => a.steps - b.steps)));
const python = read<PythonResults>('python-overhead.json');
if (python?.models) charts.push(pythonChart(python));
const out = path.join(dir, 'scaling.svg');
writeFileSync(out, svgCharts(charts));
console.log(`${charts.length} charts -> ${out}`);
