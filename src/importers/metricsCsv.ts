/**
 * CSV tables of logged metrics: Lightning's CSVLogger `metrics.csv`, a W&B history export
 * (`run.history()` / `scan_history()` saved with pandas' `to_csv`), a CSV downloaded from a W&B chart
 * (`Step`, `<run> - <key>`, `<run> - <key>__MIN`, `<run> - <key>__MAX`), and any CSV with a step
 * column and gradient-norm columns. Rows become steps through metricTable.ts.
 */
import { open } from 'node:fs/promises';
import { readLines } from '../logs/lines';
import { parseCsvLine, parseCsvNumber } from '../logs/csv';
import { isJsonNumberText, jsonNumberText } from '../logs/jsonNumberText';
import { ProblemList } from '../logs/problems';
import { importedRunIdentity } from './identity';
import { classifyGradNormTag, STEP_KEYS } from './metricKeys';
import {
  closeMetricRun,
  LIGHTNING_GRAD_NORM_HINT,
  MetricPlan,
  MetricRun,
  planMetrics,
  startMetricRun,
  startMetricTextRun,
  StepAssembler,
} from './metricTable';
import { emptyReadResult, LogFormat, LogReadOptions, LogReadResult, MessageSink } from './types';

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
  // Any other table is someone's data unless it names a gradient norm.
  if (names.some((n) => classifyGradNormTag(n))) return 'metrics-csv';
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
  const rows = await readMetricsCsvRows(file, format, sink, opts);
  if (rows.runId !== undefined) closeMetricRun(rows.incomplete, rows.runId, sink, rows.result);
  return rows.result;
}

/** Rows of a table read apart from the rest (tableImport.ts): a byte range, and the header when it is not in it. */
export interface TableRange {
  start: number;
  end?: number;
  /** The table's header line, when the range starts after it. */
  header?: string;
}

export interface TableRows {
  result: LogReadResult;
  /** The run's id, once a header was read. */
  runId?: string;
  /** Steps left out for want of a value for every layer (and of a total). */
  incomplete: number;
}

/** The steps of a table's rows (all, or those in `range`), neither ending the run nor noting what was left out. */
export async function readMetricsCsvRows(
  file: string,
  format: MetricsCsvFormat,
  sink: MessageSink,
  opts: LogReadOptions = {},
  range?: TableRange,
): Promise<TableRows> {
  const problems = new ProblemList(opts.maxProblems);
  const result: LogReadResult = emptyReadResult(format, problems.items);
  const id = importedRunIdentity(file, format as LogFormat);
  let table: Table | undefined;
  let assembler: StepAssembler<number, number> | StepAssembler<number, string> | undefined;
  let addRow: (step: number | undefined) => string | undefined = () => undefined;
  let header: string[] = [];
  const row = new CsvRow();
  let badColumn: number | undefined;
  const cell = (k: number): number | undefined => {
    const text = row.cell(k);
    if (text === undefined) return undefined;
    const v = csvCellNumber(text);
    if (v === undefined) badColumn ??= k;
    return v;
  };
  // For a run log: a cell that is a JSON number is kept as it is (no parsing, no printing).
  const cellText = (k: number): string | undefined => {
    const text = row.cell(k);
    if (text === undefined || isJsonNumberText(text)) return text;
    const v = csvCellNumber(text);
    if (v === undefined) badColumn ??= k;
    return v === undefined ? undefined : jsonNumberText(v);
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
      if (!table) {
        const parsed = parseCsvLine(text);
        const planned = parsed ? planTable(parsed, format) : { error: 'unbalanced quotes in the header' };
        if ('error' in planned) {
          problems.add({ line, message: planned.error, fatal: true });
          return false;
        }
        header = parsed!;
        table = planned;
        result.notes.push(...table.notes);
        const run: MetricRun = {
          ...id,
          name: table.runName ?? id.name,
          format,
          framework: format === 'lightning-csv' ? 'pytorch' : undefined,
        };
        if (opts.stepTexts) {
          const texts = startMetricTextRun(table.plan, run, sink, result, opts.stepTexts);
          addRow = (step) => texts.row(step, cellText);
          assembler = texts;
        } else {
          const numbers = startMetricRun(table.plan, run, sink, result);
          addRow = (step) => numbers.row(step, cell);
          assembler = numbers;
        }
        return true;
      }
      if (!row.set(text)) {
        problems.add({ line, message: 'unbalanced quotes' });
        return true;
      }
      badColumn = undefined;
      const error = addRow(cell(table.plan.step));
      if (error) problems.add({ line, message: error });
      else if (badColumn !== undefined)
        problems.add({
          line,
          message: `${JSON.stringify(header[badColumn])} must be a number, got ${JSON.stringify(row.cell(badColumn)!.slice(0, 40))}; the cell was left out`,
        });
      return true;
    },
    { ...opts, start: range?.start, end: range?.end, firstLine: range?.header },
  );
  result.bytes = read.bytes;
  result.lines = read.lines;
  if (!assembler) {
    if (problems.items.length === 0) problems.add({ line: 1, message: 'the file is empty', fatal: true });
    return { result, incomplete: 0 };
  }
  assembler.flush();
  return { result, runId: id.run_id, incomplete: assembler.incomplete };
}

/**
 * One data line's cells, found by their commas without splitting the line: most cells of a metrics
 * table are empty or unused, and splitting every line was the import's largest cost. A line with
 * quotes (Lightning and pandas quote only names with commas) is parsed in full.
 */
class CsvRow {
  private line = '';
  private quoted: string[] | undefined;
  private starts = new Int32Array(64);
  private count = 0;

  /** Takes a line; false when its quotes do not balance. */
  set(text: string): boolean {
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    this.quoted = line.includes('"') ? parseCsvLine(line) : undefined;
    if (this.quoted) return true;
    if (line.includes('"')) return false;
    this.line = line;
    let n = 0;
    for (let at = 0; ;) {
      if (n + 2 > this.starts.length) {
        const bigger = new Int32Array(this.starts.length * 2);
        bigger.set(this.starts);
        this.starts = bigger;
      }
      this.starts[n++] = at;
      const comma = line.indexOf(',', at);
      if (comma < 0) break;
      at = comma + 1;
    }
    this.starts[n] = line.length + 1;
    this.count = n;
    return true;
  }

  /** Cell k's text, undefined when it is empty or missing. */
  cell(k: number): string | undefined {
    if (this.quoted) return this.quoted[k] || undefined;
    if (k >= this.count) return undefined;
    const start = this.starts[k];
    const end = this.starts[k + 1] - 1;
    return end > start ? this.line.slice(start, end) : undefined;
  }
}

/**
 * A cell's number. Number() is the fast path for plain decimals; what it would misread (hex, binary
 * and octal prefixes, blanks) or refuse (nan, inf) goes through the strict parser.
 */
function csvCellNumber(cell: string): number | undefined {
  const v = +cell;
  const first = cell.charCodeAt(0);
  const plain = (first >= 48 && first <= 57) || first === 45 || first === 46; // digit, '-', '.'
  if (
    v === v &&
    plain &&
    !(
      first === 48 &&
      cell.length > 1 &&
      ((cell.charCodeAt(1) | 32) === 120 || (cell.charCodeAt(1) | 32) === 98 || (cell.charCodeAt(1) | 32) === 111)
    )
  )
    return v;
  return parseCsvNumber(cell);
}

/** How far past the middle a row where the step changes is looked for. */
const SPLIT_WINDOW_BYTES = 1 << 18;

/**
 * Where a table's rows can be parted into two that read alone give the same steps: the start of
 * the first row after `near` whose step differs from the row before it (rows of one step are
 * merged, so no step may straddle the parting). Undefined when there is none nearby, or when the
 * table has quotes (a quoted cell may hold a line break).
 */
export async function tableSplit(
  file: string,
  format: MetricsCsvFormat,
  near: number,
): Promise<Required<Pick<TableRange, 'start' | 'header'>> | undefined> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(SPLIT_WINDOW_BYTES);
    const headBytes = (await handle.read(head, 0, head.length, 0)).bytesRead;
    const headerEnd = head.subarray(0, headBytes).indexOf(10);
    if (headerEnd < 0 || near <= headerEnd) return undefined;
    const header = head.toString('utf8', 0, headerEnd);
    const columns = parseCsvLine(header); // as readMetricsCsvRows plans it
    const table = columns && !header.includes('"') ? planTable(columns, format) : undefined;
    if (!table || 'error' in table) return undefined;

    const window = Buffer.alloc(SPLIT_WINDOW_BYTES);
    const windowBytes = (await handle.read(window, 0, window.length, near)).bytesRead;
    const text = window.toString('latin1', 0, windowBytes); // byte offsets = string offsets; step cells are ASCII
    if (text.includes('"')) return undefined;
    const row = new CsvRow();
    let previous: number | undefined;
    for (let start = text.indexOf('\n') + 1; start > 0;) {
      const end = text.indexOf('\n', start);
      if (end < 0) break; // a line the window cuts off
      const line = text.slice(start, end);
      const stepText = line.trim() !== '' && row.set(line) ? row.cell(table.plan.step) : undefined;
      const step = stepText === undefined ? undefined : csvCellNumber(stepText);
      if (step !== undefined && Number.isSafeInteger(step) && step >= 0) {
        if (previous !== undefined && step !== previous) return { start: near + start, header };
        previous = step;
      }
      start = end + 1;
    }
    return undefined;
  } finally {
    await handle.close();
  }
}
