/**
 * Converts a log of any supported format into a Gradient Monitor run log (NDJSON), written
 * atomically: the CLI's `import` and the Runs view's Import command share it.
 */
import { mkdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomically } from '../logs/atomicWrite';
import { logFilePath } from '../logs/paths';
import { describeReadProblems } from '../logs/problems';
import { stringifyKeepingNonFinite } from '../protocol/json';
import { ClientMessage } from '../protocol/messages';
import { importedRunIdentity } from './identity';
import { identifyLog, readLog } from './readLog';
import { LogReadOptions, LogReadResult } from './types';

export class NothingToImportError extends Error {}

/**
 * A message as one line of the run log. JSON.stringify with a replacer was most of an import's time;
 * without one it writes non-finite numbers as null, so only a line containing "null" needs the replacer.
 */
function messageLine(m: ClientMessage): string {
  const fast = JSON.stringify(m);
  return (fast.includes('null') ? stringifyKeepingNonFinite(m) : fast) + '\n';
}

export interface ConvertOptions extends LogReadOptions {
  /** Replace an existing output file. */
  overwrite?: boolean;
  /** Run id and name to use instead of those made from the source. */
  runId?: string;
  name?: string;
}

export interface Conversion {
  read: LogReadResult;
  runId: string;
  name: string;
  steps: number;
}

/** The output's folder must exist: writing there first makes a temporary file, whose error would name it instead. */
export class OutputFolderError extends Error {}

async function checkOutputFolder(out: string): Promise<void> {
  const folder = path.dirname(path.resolve(out));
  const info = await stat(folder).catch(() => undefined);
  if (!info) throw new OutputFolderError(`cannot write ${out}: the folder ${folder} does not exist`);
  if (!info.isDirectory()) throw new OutputFolderError(`cannot write ${out}: ${folder} is not a folder`);
  if ((await stat(out).catch(() => undefined))?.isDirectory())
    throw new OutputFolderError(
      `cannot write ${out}: it is a folder; give a file name such as ${path.join(out, 'run.jsonl')}`,
    );
}

export async function convertToRunLog(source: string, out: string, opts: ConvertOptions = {}): Promise<Conversion> {
  await checkOutputFolder(out);
  let conversion: Conversion | undefined;
  await writeFileAtomically(
    out,
    async (write) => {
      let firstId: string | undefined;
      let name = '';
      let steps = 0;
      const read = await readLog(
        source,
        (m) => {
          firstId ??= m.run_id;
          if (m.run_id === firstId && opts.runId) m.run_id = opts.runId;
          if (m.type === 'run_start' && m.run_id === (opts.runId ?? firstId)) {
            if (opts.name) m.name = opts.name;
            name = m.name ?? m.run_id;
          }
          if (m.type === 'step') steps++;
          write(messageLine(m));
        },
        opts,
      );
      if (steps === 0) {
        const why = describeReadProblems(source, read.problems);
        throw new NothingToImportError(
          why ? `nothing to import from ${why}` : `${source}: nothing to import: no step has a gradient norm`,
        );
      }
      const runId = opts.runId ?? firstId ?? '';
      conversion = { read, runId, name: name || runId, steps };
    },
    { overwrite: opts.overwrite },
  );
  return conversion!;
}

/**
 * Imports a log into a runs folder under the name a recorded run with the same id would get, so
 * importing the same file again finds (and, with overwrite, replaces) the earlier import.
 */
export async function importIntoFolder(
  source: string,
  folder: string,
  opts: ConvertOptions = {},
): Promise<Conversion & { out: string }> {
  const format = await identifyLog(source);
  const out = logFilePath(folder, importedRunIdentity(source, format).run_id);
  await mkdir(folder, { recursive: true });
  return { ...(await convertToRunLog(source, out, opts)), out };
}
