/**
 * A W&B history export as JSON lines: one object per logged row with `_step` (and `_timestamp`,
 * `_runtime`) beside the logged keys, as pandas writes `run.history()` / `scan_history()` with
 * `to_json(orient="records", lines=True)`, or as W&B's own `wandb-history.jsonl`. Rows may carry
 * different keys, so a first pass collects them (rows are small; the file is read twice).
 * `null` is a key not logged on that row; NaN arrives as a bare `NaN` or the string "NaN".
 */
import { readLines } from '../logs/lines';
import { ProblemList } from '../logs/problems';
import { parseJsonAllowingNonFinite, toNumber } from '../protocol/json';
import { importedRunIdentity } from './identity';
import { endMetricRun, planMetrics, startMetricRun } from './metricTable';
import { emptyReadResult, LogReadOptions, LogReadResult, MessageSink } from './types';

type Row = Record<string, unknown>;

function parseRow(text: string): Row | undefined {
  try {
    const row = parseJsonAllowingNonFinite(text);
    return typeof row === 'object' && row !== null && !Array.isArray(row) ? (row as Row) : undefined;
  } catch {
    return undefined;
  }
}

export async function readWandbHistoryJsonl(
  file: string,
  sink: MessageSink,
  opts: LogReadOptions = {},
): Promise<LogReadResult> {
  const problems = new ProblemList(opts.maxProblems);
  const result: LogReadResult = emptyReadResult('wandb-history', problems.items);
  const keys = new Set<string>();
  await readLines(
    file,
    (text, _line, isTail) => {
      const row = text.trim() && !isTail ? parseRow(text) : undefined;
      if (row) for (const k of Object.keys(row)) keys.add(k);
    },
    { signal: opts.signal },
  );
  const plan = planMetrics([...keys].map((k) => [k, k] as const));
  if ('error' in plan) {
    problems.add({ line: 1, message: keys.size === 0 ? 'no JSON object on any line' : plan.error, fatal: true });
    return result;
  }

  const id = importedRunIdentity(file, 'wandb-history');
  const assembler = startMetricRun(plan, { ...id, format: 'wandb-history' }, sink, result);
  let row: Row = {};
  const value = (k: string): number | undefined => toNumber(row[k]);
  const read = await readLines(
    file,
    (text, line, isTail) => {
      if (text.trim() === '') return;
      const parsed = parseRow(text);
      if (isTail) {
        result.tornTail = true; // a last line without its line break: cut off mid-write
        return;
      }
      if (!parsed) {
        problems.add({ line, message: 'not a JSON object' });
        return;
      }
      row = parsed;
      const error = assembler.row(value(plan.step), value);
      if (error) problems.add({ line, message: error });
    },
    opts,
  );
  result.bytes = read.bytes;
  result.lines = read.lines;
  endMetricRun(assembler, id.run_id, sink, result);
  return result;
}
