/**
 * CSV logs: a header `step,total_norm[,layer...]` then one row per step. Layer columns become the
 * run's layers. Bad rows are reported by line and skipped; a last line without a newline is a
 * write cut short: it is skipped, and the run is not completed.
 */
import { readLines } from '../logs/lines';
import { parseCsvLine, parseCsvNumber } from '../logs/csv';
import { ProblemList } from '../logs/problems';
import { StepMessage } from '../protocol/messages';
import { importedRunIdentity } from './identity';
import { CUT_OFF_NOTE } from './metricTable';
import { emptyReadResult, LogReadOptions, LogReadResult, MessageSink } from './types';

export const CSV_HEADER_START = ['step', 'total_norm'];

export async function readCsvLog(file: string, sink: MessageSink, opts: LogReadOptions = {}): Promise<LogReadResult> {
  const problems = new ProblemList(opts.maxProblems);
  const result: LogReadResult = emptyReadResult('csv', problems.items);
  const id = importedRunIdentity(file, 'csv');
  let header: string[] | undefined;

  const read = await readLines(
    file,
    (text, line, isTail) => {
      if (text.trim() === '') return true;
      if (isTail && header) {
        // A last row without its line break was cut off mid-write: its numbers may be cut too.
        result.tornTail = true;
        return true;
      }
      const cells = parseCsvLine(text);
      if (!header) {
        if (!cells || !isHeader(cells)) {
          problems.add({
            line,
            message: `expected the header "${CSV_HEADER_START.join(',')}[,layer...]", got ${JSON.stringify(text.slice(0, 80))} (a table of logged metrics needs a step column)`,
            fatal: true,
          });
          return false;
        }
        header = cells.map((c) => c.trim());
        const layers = header.slice(2);
        sink({
          type: 'run_start',
          run_id: id.run_id,
          name: id.name,
          layers: layers.length > 0 ? layers : undefined,
          meta: { source: 'csv', file: id.file },
        });
        result.messages++;
        return true;
      }
      const step = cells ? rowToStep(cells, header.length, id.run_id) : { error: 'unbalanced quotes' };
      if ('error' in step) {
        problems.add({ line, message: step.error });
        return true;
      }
      sink(step.ok);
      result.messages++;
      return true;
    },
    opts,
  );
  result.bytes = read.bytes;
  result.lines = read.lines;
  if (header && !result.tornTail) {
    sink({ type: 'run_end', run_id: id.run_id, status: 'completed' });
    result.messages++;
  } else if (header) {
    result.notes.push(CUT_OFF_NOTE);
  } else if (problems.items.length === 0) {
    problems.add({ line: 1, message: 'the file is empty', fatal: true });
  }
  return result;
}

function isHeader(cells: string[]): boolean {
  return CSV_HEADER_START.every((name, i) => cells[i]?.trim().toLowerCase() === name);
}

function rowToStep(cells: string[], columns: number, runId: string): { ok: StepMessage } | { error: string } {
  if (cells.length !== columns) return { error: `${cells.length} cells where the header has ${columns}` };
  const step = parseCsvNumber(cells[0]);
  if (step === undefined || !Number.isSafeInteger(step) || step < 0)
    return { error: `step must be an integer >= 0, got ${JSON.stringify(cells[0])}` };
  const total = parseCsvNumber(cells[1]);
  if (total === undefined) return { error: `total_norm must be a number, got ${JSON.stringify(cells[1])}` };
  const m: StepMessage = { type: 'step', run_id: runId, step, total_norm: total };
  if (columns > 2) {
    const norms: number[] = [];
    for (let i = 2; i < columns; i++) {
      const v = parseCsvNumber(cells[i]);
      if (v === undefined) return { error: `column ${i + 1} must be a number, got ${JSON.stringify(cells[i])}` };
      norms.push(v);
    }
    m.layer_norms = norms;
  }
  return { ok: m };
}
