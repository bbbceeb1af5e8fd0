/** `gradient-monitor import FILE -o OUT.jsonl`: another tool's log as a Gradient Monitor run log. */
import { parseArgs } from 'node:util';
import { convertToRunLog } from '../importers/convert';
import { LOG_FORMAT_NAMES } from '../importers/types';
import { OutputExistsError } from '../logs/atomicWrite';
import { describeReadProblems } from '../logs/problems';
import { UsageError } from './args';

type Out = (line: string) => void;

/**
 * Exit status 0 for a clean import, 1 when the source had problems (what preceded them is still
 * written) or nothing could be written.
 */
export async function importCommand(args: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      force: { type: 'boolean' },
      'run-id': { type: 'string' },
      name: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('import takes exactly one file');
  if (!values.output) throw new UsageError('import needs -o OUT.jsonl');
  const [source] = positionals;
  let result;
  try {
    result = await convertToRunLog(source, values.output, {
      overwrite: values.force,
      runId: values['run-id'],
      name: values.name,
    });
  } catch (e) {
    if (e instanceof OutputExistsError) {
      err(`gradient-monitor: ${e.message} (pass --force to replace it)`);
      return 1;
    }
    throw e;
  }
  const { read } = result;
  out(
    `imported ${result.steps} steps of run "${result.name}" (${LOG_FORMAT_NAMES[read.format]}) into ${values.output}`,
  );
  for (const note of read.notes) out(`note: ${note}`);
  const problems = describeReadProblems(source, read.problems);
  if (problems) err(`gradient-monitor: ${problems}; everything readable was imported`);
  if (read.tornTail)
    err(`gradient-monitor: ${source}: the last line was cut short (a crash while writing) and was skipped`);
  return problems ? 1 : 0;
}
