/**
 * Log file names derived from run ids. Run ids come from the network, so the name keeps only a
 * safe slug (no separators, no dot-only names, no Windows device names) plus a hash of the full id:
 * different ids never share a file, and no id can escape the log folder.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';

export const LOG_EXTENSION = '.jsonl';
const RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)$/i;

export function logFileName(runId: string): string {
  const hash = createHash('sha256').update(runId).digest('hex').slice(0, 10);
  let slug = runId
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._-]+/, '')
    .slice(0, 80);
  if (RESERVED.test(slug.split('.')[0])) slug = `_${slug}`;
  return `${slug || 'run'}-${hash}${LOG_EXTENSION}`;
}

export function logFilePath(dir: string, runId: string): string {
  const file = path.join(dir, logFileName(runId));
  // Defence in depth: the slug cannot contain separators, but never trust that alone.
  if (path.dirname(file) !== path.resolve(dir) && path.dirname(file) !== dir)
    throw new Error(`refusing log path outside ${dir}`);
  return file;
}

/**
 * Whether a file is one of Gradient Monitor's own run logs (`.gradient-monitor/runs/*.jsonl`),
 * which open in the dashboard by default.
 */
export function isRecordedRunLog(file: string): boolean {
  return /[\\/]\.gradient-monitor[\\/]runs[\\/][^\\/]+\.jsonl$/.test(file);
}
