/**
 * CSV syntax shared by the importer and the exporter (RFC 4180 quoting, one record per line).
 * Non-finite numbers are written NaN/Infinity/-Infinity; reading also takes numpy's nan/inf and,
 * like pandas, an empty cell as NaN.
 */

/** Cells of one line, or undefined when its quotes do not balance. */
export function parseCsvLine(line: string): string[] | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let cell = '';
      i++;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close < 0) return undefined;
        cell += text.slice(i, close);
        if (text[close + 1] === '"') {
          cell += '"';
          i = close + 2;
          continue;
        }
        i = close + 1;
        break;
      }
      cells.push(cell);
      if (i === text.length) return cells;
      if (text[i] !== ',') return undefined;
      i++;
    } else {
      const comma = text.indexOf(',', i);
      cells.push(text.slice(i, comma < 0 ? text.length : comma));
      if (comma < 0) return cells;
      i = comma + 1;
    }
  }
}

export function csvCell(value: string | number): string {
  if (typeof value === 'number') return formatCsvNumber(value);
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function csvLine(cells: readonly (string | number)[]): string {
  return cells.map(csvCell).join(',');
}

export function formatCsvNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return String(v);
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE = /^([+-]?)(nan|inf|infinity)$/i;

/** A cell as a number (empty = NaN), or undefined when it is not one. */
export function parseCsvNumber(cell: string): number | undefined {
  const s = cell.trim();
  if (s === '') return NaN;
  if (DECIMAL.test(s)) return Number(s);
  const m = NON_FINITE.exec(s);
  if (!m) return undefined;
  if (m[2].toLowerCase() === 'nan') return NaN;
  return m[1] === '-' ? -Infinity : Infinity;
}
