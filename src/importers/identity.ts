/**
 * Run ids and names for imported logs. Other tools' files carry no run id, so one is made from the
 * run's name and a hash of the file's absolute path: importing the same file twice gives the same
 * id (and log file name), different files never collide.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { isEventFile } from './tensorboard/runFolder';
import { LogFormat } from './types';

export interface RunIdentity {
  run_id: string;
  name: string;
  /** The source file's absolute path, kept in run_start.meta.file. */
  file: string;
}

export function importedRunIdentity(file: string, format: LogFormat): RunIdentity {
  const abs = path.resolve(file);
  const name = importedRunName(abs, format);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  return { run_id: `${name}@${hash}`, name, file: abs };
}

/**
 * The name a person would call the run: the folder of a trainer state or an event file
 * (TensorBoard's run name), else the file's name.
 */
function importedRunName(abs: string, format: LogFormat): string {
  const parent = path.basename(path.dirname(abs));
  if (format === 'hf-trainer-state') {
    // Trainer checkpoints live in <output_dir>/checkpoint-<step>/trainer_state.json.
    const grandparent = path.basename(path.dirname(path.dirname(abs)));
    if (/^checkpoint-\d+$/.test(parent) && grandparent) return `${grandparent}/${parent}`;
    return parent || path.basename(abs);
  }
  // A folder of event files is the run; a file's folder is (TensorBoard's run name).
  if (format === 'tensorboard') return isEventFile(abs) ? parent || path.basename(abs) : path.basename(abs);
  // Lightning writes <save_dir>/<name>/version_<n>/metrics.csv.
  if (format === 'lightning-csv') {
    const grandparent = path.basename(path.dirname(path.dirname(abs)));
    return /^version_\d+$/.test(parent) && grandparent ? `${grandparent}/${parent}` : parent || path.basename(abs);
  }
  return path.basename(abs).replace(/\.[^.]+$/, '') || path.basename(abs);
}
