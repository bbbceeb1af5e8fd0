/**
 * A TensorBoard run given as a folder: every event file in it and up to three folders below
 * (restarts add files beside the first; Hugging Face writes `runs/<date>/` and an hparams
 * subfolder; Keras writes `train/` and `validation/`), oldest first, so that a step logged again
 * after a restart takes its latest value.
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';

const MAX_DEPTH = 3;
const MAX_FILES = 1000;
const SKIPPED = new Set(['node_modules', '.git', '__pycache__']);

export interface EventFileEntry {
  file: string;
  /** The file's path inside the folder, for messages. */
  relative: string;
  /** Prefix for its tags: Keras's validation/ metrics share names with train/'s. */
  tagPrefix: string;
}

export function isEventFile(file: string): boolean {
  return path.basename(file).startsWith('events.out.tfevents.');
}

/** The seconds since the epoch that writers put in the name: events.out.tfevents.<time>.<host>... */
function fileTime(file: string): number {
  const t = Number(path.basename(file).split('.')[3]);
  return Number.isFinite(t) ? t : Infinity;
}

export async function findEventFiles(folder: string): Promise<EventFileEntry[]> {
  const found: EventFileEntry[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      if (found.length >= MAX_FILES) return;
      const full = path.join(dir, e.name);
      if (e.isDirectory() && depth < MAX_DEPTH && !SKIPPED.has(e.name)) await walk(full, depth + 1);
      else if (e.isFile() && isEventFile(e.name)) {
        const relative = path.relative(folder, full);
        const inValidation = relative.split(path.sep).slice(0, -1).includes('validation');
        found.push({ file: full, relative, tagPrefix: inValidation ? 'validation/' : '' });
      }
    }
  };
  await walk(folder, 0);
  return found.sort((a, b) => fileTime(a.file) - fileTime(b.file) || a.relative.localeCompare(b.relative));
}
