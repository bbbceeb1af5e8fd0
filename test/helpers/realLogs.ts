/** Where the real logs of public projects are (../shared/real-logs, see its SOURCES.tsv), if anywhere. */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
// ../shared beside the main checkout; a worktree under wt/ sits one level deeper.
export const REAL_LOGS =
  [
    process.env.GRADIENT_MONITOR_REAL_LOGS,
    path.join(ROOT, '..', 'shared', 'real-logs'),
    path.join(ROOT, '..', '..', 'shared', 'real-logs'),
  ]
    .filter((p): p is string => Boolean(p))
    .find((p) => existsSync(path.join(p, 'SOURCES.tsv'))) ?? path.join(ROOT, '..', 'shared', 'real-logs');

export const realLogsPresent = existsSync(path.join(REAL_LOGS, 'SOURCES.tsv'));
