/** Usage text of the `gradient-monitor` command line: one entry per subcommand, the full text built from them. */

const COMMANDS = {
  serve: `serve    [--host H] [--port P] [--token T] [--log-dir D] [--threshold X]
           [--max-connections N] [--max-messages-per-second N] [--max-layers N]
           [--max-runs N] [--max-frame-bytes N]
           headless endpoint that records runs; prints the ws URL first.
           A host other than loopback needs --token (16+ characters)`,
  simulate: `simulate [--url U] [--token T] [--steps N] [--rate HZ] [--spike-at S] [--nan-at S]
           [--run-id ID] [--name NAME] [--threshold X] [--layers N]
           streams a synthetic run to an endpoint`,
  inspect: `inspect  LOG [--json] [--threshold X]
           summary of a recorded run, or of another tool's log (see import); exit 1 when no step was read`,
  import: `import   FILE -o OUT.jsonl [--force] [--run-id ID] [--name NAME]
           converts a trainer_state.json, TensorBoard events (a file or a run folder), a Lightning
           metrics.csv, a W&B history (CSV, JSON lines) or chart CSV export, or a CSV into a run log`,
  clip: `clip     FILE.py [--max-norm N] [--value V] [--write] [--json]
           adds gradient clipping where the script trains (prints a diff; --write applies it)
           exit 0 edit proposed/applied, 3 already clipped, 4 no training step, 2 does not parse`,
  check: `check    FILE.py [--json]
           training-loop checks (clipping after the step, on scaled AMP gradients, per micro-batch...)
           exit 0 none found, 1 findings, 2 does not parse`,
} as const;

export type CommandName = keyof typeof COMMANDS;

export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

export function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

export const USAGE = `usage: gradient-monitor <command> [options]

commands:
${Object.values(COMMANDS)
  .map((text) => `  ${text}`)
  .join('\n')}
`;

/** One subcommand's usage, e.g. for `gradient-monitor clip --help`. */
export function commandUsage(name: CommandName): string {
  // The table pads names to one column; alone, one space follows the name.
  return `usage: gradient-monitor ${COMMANDS[name].replace(/^(\S+) +/, '$1 ')}\n`;
}

/** `-h`/`--help` among the arguments (before a `--`, after which everything is an operand). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}
