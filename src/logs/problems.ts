/** Problems met while reading a log of any format, located by line (text) or byte offset (event files). */

export interface ReadProblem {
  line?: number;
  offset?: number;
  message: string;
  /** Reading stopped here: nothing after this point could be read. */
  fatal?: boolean;
}

export const DEFAULT_MAX_PROBLEMS = 100;

/** Collects problems up to a limit; a fatal one is always kept. */
export class ProblemList {
  readonly items: ReadProblem[] = [];
  constructor(private readonly max: number = DEFAULT_MAX_PROBLEMS) {}

  add(p: ReadProblem): void {
    if (this.items.length < this.max || p.fatal) this.items.push(p);
  }

  get fatal(): ReadProblem | undefined {
    return this.items.find((p) => p.fatal);
  }
}

export function problemLocation(p: ReadProblem): string {
  if (p.line !== undefined) return `line ${p.line}`;
  if (p.offset !== undefined) return `record at byte ${p.offset}`;
  return 'file';
}

/** One line naming the file and its first problems, for messages and notifications; undefined when clean. */
export function describeReadProblems(
  file: string,
  problems: readonly ReadProblem[],
  unit = 'problems',
): string | undefined {
  if (problems.length === 0) return undefined;
  const first = problems
    .slice(0, 3)
    .map((p) => `${problemLocation(p)}: ${p.message}`)
    .join('; ');
  const more = problems.length > 3 ? ` (and ${problems.length - 3} more ${unit})` : '';
  return `${file}: ${first}${more}`;
}
