/**
 * CSV tables of logged metrics: Lightning's CSVLogger `metrics.csv`, a W&B history export
 * (`run.history()` / `scan_history()` saved with pandas' `to_csv`), a CSV downloaded from a W&B chart
 * (`Step`, `<run> - <key>`, `<run> - <key>__MIN`, `<run> - <key>__MAX`), and any CSV with a step
 * column and gradient-norm columns. Rows become steps through metricTable.ts.
 */
import { readLines } from '../logs/lines';
import { parseCsvLine, parseCsvNumber } from '../logs/csv';
import { ProblemList } from '../logs/problems';
import { importedRunIdentity } from './identity';
import { classifyGradNormTag, STEP_KEYS, trainingLossRank } from './metricKeys';
import {
  endMetricRun,
  LIGHTNING_GRAD_NORM_HINT,
  MetricPlan,
  planMetrics,
  startMetricRun,
  StepAssembler,
} from './metricTable';
import { LogFormat, LogReadOptions, LogReadResult, MessageSink } from './types';

export type MetricsCsvFormat = 'lightning-csv' | 'wandb-history' | 'wandb-chart-csv' | 'metrics-csv';

/** W&B names a chart's columns `<run> - <key>`, with `__MIN`/`__MAX` for the range of each sampled bucket. */
const CHART_COLUMN = /^(.*) - (.+?)(__MIN|__MAX)?$/;

/** Which table a header row is, or undefined when it is none of them. */
export function metricsCsvFormat(header: readonly string[]): MetricsCsvFormat | undefined {
  const names = header.map((c) => c.trim());
  if (names.length > 1 && !names[0].includes(' - ') && names.slice(1).every((n) => CHART_COLUMN.test(n)))
    return 'wandb-chart-csv';
  if (!names.some((n) => STEP_KEYS.includes(n))) return undefined;
  if (names.includes('_step')) return 'wandb-history';
  if (names.includes('step') && names.includes('epoch')) return 'lightning-csv';
  if (names.some((n) => classifyGradNormTag(n) || trainingLossRank(n) !== undefined)) return 'metrics-csv';
  return undefined;
}

interface Table {
  plan: MetricPlan<number>;
  runName?: string;
  notes: string[];
}

/** The columns of one run: a chart export may hold several runs, of which the first with a norm is read. */
function planTable(header: string[], format: MetricsCsvFormat): Table | { error: string } {
  if (format !== 'wandb-chart-csv') {
    const plan = planMetrics(header.map((name, i) => [i, name.trim()] as const));
    if ('error' in plan)
      return format === 'lightning-csv' ? { error: `${plan.error}; ${LIGHTNING_GRAD_NORM_HINT}` } : plan;
    return { plan, notes: [] };
  }
  const runs = new Map<string, [number, string][]>();
  const sampled = new Set<string>();
  header.forEach((cell, i) => {
    const m = i === 0 ? null : CHART_COLUMN.exec(cell.trim());
    if (!m) return;
    if (m[3]) sampled.add(m[1]);
    else runs.set(m[1], [...(runs.get(m[1]) ?? []), [i, m[2]]]);
  });
  const stepName = STEP_KEYS.includes(header[0].trim()) ? header[0].trim() : 'Step';
  let firstError: string | undefined;
  for (const [run, columns] of runs) {
    const plan = planMetrics<number>([[0, stepName], ...columns]);
    if ('error' in plan) {
      firstError ??= plan.error;
      continue;
    }
    const others = [...runs.keys()].filter((r) => r !== run);
    const notes =
      others.length > 0
        ? [`this chart export also holds ${others.map((r) => `"${r}"`).join(', ')}; run "${run}" was read`]
        : [];
    if (sampled.has(run))
      notes.push(
        "a W&B chart export holds the chart's sampled points (with each bucket's __MIN/__MAX), not every step",
      );
    return { plan, runName: run, notes };
  }
  return { error: firstError ?? 'no "<run> - <key>" column' };
}

export async function readMetricsCsv(
  file: string,
  format: MetricsCsvFormat,
  sink: MessageSink,
  opts: LogReadOptions = {},
): Promise<LogReadResult> {
  const problems = new ProblemList(opts.maxProblems);
  const result: LogReadResult = {
    format,
    bytes: 0,
    messages: 0,
    problems: problems.items,
    tornTail: false,
    notes: [],
  };
  const id = importedRunIdentity(file, format as LogFormat);
  let table: Table | undefined;
  let assembler: StepAssembler<number> | undefined;
  let header: string[] = [];
  let cells: string[] = [];
  let badColumn: number | undefined;
  const cell = (k: number): number | undefined => {
    const text = cells[k];
    if (text === undefined || text === '') return undefined;
    const v = parseCsvNumber(text);
    if (v === undefined) badColumn ??= k;
    return v;
  };

  const read = await readLines(
    file,
    (text, line, isTail) => {
      if (text.trim() === '') return true;
      if (isTail && table) {
        // A last row without its line break was cut off mid-write: its numbers may be cut too.
        result.tornTail = true;
        return true;
      }
      const parsed = parseCsvLine(text);
      if (!table) {
        const planned = parsed ? planTable(parsed, format) : { error: 'unbalanced quotes in the header' };
        if ('error' in planned) {
          problems.add({ line, message: planned.error, fatal: true });
          return false;
        }
        header = parsed!;
        table = planned;
        result.notes.push(...table.notes);
        const framework = format === 'lightning-csv' ? 'pytorch' : undefined;
        assembler = startMetricRun(
          table.plan,
          { ...id, name: table.runName ?? id.name, format, framework },
          sink,
          result,
        );
        return true;
      }
      if (!parsed) {
        problems.add({ line, message: 'unbalanced quotes' });
        return true;
      }
      cells = parsed;
      badColumn = undefined;
      const error = assembler!.row(cell);
      if (error) problems.add({ line, message: error });
      else if (badColumn !== undefined)
        problems.add({
          line,
          message: `${JSON.stringify(header[badColumn])} must be a number, got ${JSON.stringify(cells[badColumn].slice(0, 40))}; the cell was left out`,
        });
      return true;
    },
    opts,
  );
  result.bytes = read.bytes;
  result.lines = read.lines;
  if (!table) {
    if (problems.items.length === 0) problems.add({ line: 1, message: 'the file is empty', fatal: true });
    return result;
  }
  endMetricRun(assembler!, id.run_id, sink, result);
  return result;
}
