/**
 * CSV export of a run's steps (`step,total_norm[,layer...]`, the format the CSV importer reads), at
 * full resolution, streamed from its log of any format and written atomically.
 */
import { writeFileAtomically } from '../logs/atomicWrite';
import { csvLine } from '../logs/csv';
import { readLog } from './readLog';
import { LogReadOptions, LogReadResult } from './types';

export function stepsCsvHeader(layers: readonly string[]): string {
  return csvLine(['step', 'total_norm', ...layers]);
}

/** One row; missing layer values are written empty (read back as NaN, as pandas does). */
export function stepCsvRow(
  step: number,
  total: number,
  layerNorms: ArrayLike<number> | undefined,
  layerCount: number,
): string {
  const cells: (number | string)[] = [step, total];
  for (let i = 0; i < layerCount; i++) cells.push(layerNorms && i < layerNorms.length ? layerNorms[i] : '');
  return csvLine(cells);
}

export interface CsvExport {
  read: LogReadResult;
  rows: number;
  layers: string[];
}

export interface CsvExportOptions extends LogReadOptions {
  overwrite?: boolean;
  /** Only the steps in from..to (inclusive), e.g. what a chart shows; every step by default. */
  steps?: { from: number; to: number };
}

/**
 * Writes the steps of the log's first run, on its first rank seen (other ranks would repeat step
 * numbers). The header is written with the first step: layer names come from run_start, or are
 * numbered when the run named none.
 */
export async function exportLogToCsv(source: string, out: string, opts: CsvExportOptions = {}): Promise<CsvExport> {
  const inRange = opts.steps
    ? (step: number): boolean => step >= opts.steps!.from && step <= opts.steps!.to
    : (): boolean => true;
  let exported: CsvExport | undefined;
  await writeFileAtomically(
    out,
    async (write) => {
      let runId: string | undefined;
      let rank: number | undefined;
      let layers: string[] = [];
      let header = false;
      let rows = 0;
      const read = await readLog(
        source,
        (m) => {
          runId ??= m.run_id;
          if (m.run_id !== runId) return;
          if (m.type === 'run_start' && m.layers && layers.length === 0) layers = m.layers;
          // The CSV holds norms only: a step that measured none has no row.
          if (m.type !== 'step' || m.total_norm === undefined) return;
          rank ??= m.rank ?? 0;
          if ((m.rank ?? 0) !== rank || !inRange(m.step)) return;
          if (!header) {
            if (layers.length === 0 && m.layer_norms) layers = m.layer_norms.map((_, i) => `layer_${i}`);
            write(stepsCsvHeader(layers) + '\n');
            header = true;
          }
          write(stepCsvRow(m.step, m.total_norm, m.layer_norms, layers.length) + '\n');
          rows++;
        },
        opts,
      );
      if (!header) write(stepsCsvHeader(layers) + '\n');
      exported = { read, rows, layers };
    },
    { overwrite: opts.overwrite },
  );
  return exported!;
}
