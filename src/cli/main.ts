/**
 * The `gradient-monitor` command line: serve, simulate and inspect, built from the same pure
 * modules as the extension.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_ALERT_SETTINGS } from '../alerts/rules';
import { Hub } from '../ingest/hub';
import { fmt, formatDuration, quotedNames } from '../shared/format';
import { describeReadProblems } from '../logs/problems';
import { summarizeLog } from '../runs/summary';
import { identifyLog } from '../importers/readLog';
import { LOG_FORMAT_NAMES } from '../importers/types';
import { stringifyKeepingNonFinite } from '../protocol/json';
import { originLabel } from '../shared/nonfiniteOrigin';
import { RunStore } from '../runs/runStore';
import { newToken } from '../server/auth';
import { removeDiscoverySync, writeDiscovery } from '../server/discovery';
import { DEFAULT_HOST, DEFAULT_PORT, GradientServer } from '../server/server';
import { numberOption, resolveEndpoint, UsageError } from './args';
import { importCommand } from './import';
import { simulate } from './simulate';
import { checkCommand, clipCommand } from './pythonCommands';
import { commandUsage, isCommand, USAGE, wantsHelp } from './usage';

type Out = (line: string) => void;

/** How long `serve` waits on shutdown for a failing disk before giving up on unwritten messages. */
const SHUTDOWN_WAIT_MS = 5000;

export async function main(
  argv: string[],
  out: Out = (l) => process.stdout.write(l + '\n'),
  err: Out = (l) => process.stderr.write(l + '\n'),
): Promise<number> {
  const [command, ...rest] = argv;
  if (isCommand(command) && wantsHelp(rest)) {
    out(commandUsage(command));
    return 0;
  }
  try {
    switch (command) {
      case 'serve':
        return await serve(rest, out, err);
      case 'simulate':
        return await runSimulate(rest, out, err);
      case 'inspect':
        return await inspect(rest, out, err);
      case 'import':
        return await importCommand(rest, out, err);
      case 'clip':
        return await clipCommand(rest, out, err);
      case 'check':
        return await checkCommand(rest, out, err);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`gradient-monitor: ${(e as Error).message}`);
      err(isCommand(command) ? commandUsage(command) : USAGE);
      return 2;
    }
    err(`gradient-monitor: ${(e as Error).message}`);
    return 1;
  }
}

async function serve(args: string[], out: Out, err: Out): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      token: { type: 'string' },
      'log-dir': { type: 'string' },
      threshold: { type: 'string' },
      'max-connections': { type: 'string' },
      'max-messages-per-second': { type: 'string' },
      'max-layers': { type: 'string' },
      'max-runs': { type: 'string' },
      'max-frame-bytes': { type: 'string' },
    },
  });
  const host = values.host ?? DEFAULT_HOST;
  const chosenToken = values.token || process.env.GRADIENT_MONITOR_TOKEN;
  const token = chosenToken || newToken();
  const logDir = path.resolve(values['log-dir'] ?? path.join('.gradient-monitor', 'runs'));
  const threshold = numberOption(values.threshold, 'threshold', DEFAULT_ALERT_SETTINGS.threshold);
  const hub = new Hub(
    new RunStore({
      alerts: { ...DEFAULT_ALERT_SETTINGS, threshold },
      maxRuns: numberOption(values['max-runs'], 'max-runs'),
    }),
    logDir,
  );
  const maxLayers = numberOption(values['max-layers'], 'max-layers');
  const server = new GradientServer(hub, {
    host,
    port: numberOption(values.port, 'port', DEFAULT_PORT),
    token,
    explicitToken: Boolean(chosenToken),
    maxConnections: numberOption(values['max-connections'], 'max-connections'),
    maxMessagesPerSecond: numberOption(values['max-messages-per-second'], 'max-messages-per-second'),
    maxFrameBytes: numberOption(values['max-frame-bytes'], 'max-frame-bytes'),
    validation: maxLayers === undefined ? {} : { maxLayers },
  });
  const { url } = await server.listen();
  // Published before the URL line, so whoever reads that line can already discover the endpoint.
  await writeDiscovery({ url, token, pid: process.pid, workspaceFolders: [], startedAt: Date.now(), logDir });
  process.once('exit', () => removeDiscoverySync());
  out(url);
  if (!chosenToken) out(`token: ${token}`);
  out(`recording runs to ${logDir}`);
  hub.on('alert', (a) => err(`[${a.severity}] ${a.run_id}: ${a.message}`));
  hub.on('run', (r) => {
    if (r.state !== 'live') err(`run ${r.id} ${r.state} after ${r.stepCount} steps`);
  });
  hub.on('recording', (runId, e) =>
    err(e ? `cannot record ${runId}: ${e.message} (kept in memory, retrying)` : `recording ${runId} resumed`),
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.once('SIGINT', () => process.exit(130)); // a second Ctrl-C does not wait for the disk
  await server.close();
  const lost = await hub.close(SHUTDOWN_WAIT_MS); // flushes every buffered line, unless the disk keeps refusing
  removeDiscoverySync();
  if (lost > 0) {
    err(
      `gradient-monitor: gave up on ${lost} messages that could not be written to ${logDir} within ${SHUTDOWN_WAIT_MS / 1000} s`,
    );
    return 1;
  }
  return 0;
}

async function runSimulate(args: string[], out: Out, err: Out): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      steps: { type: 'string' },
      rate: { type: 'string' },
      'spike-at': { type: 'string' },
      'nan-at': { type: 'string' },
      'run-id': { type: 'string' },
      name: { type: 'string' },
      threshold: { type: 'string' },
      layers: { type: 'string' },
    },
  });
  const endpoint = resolveEndpoint(values.url, values.token);
  const runId = values['run-id'] ?? `simulated-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const steps = numberOption(values.steps, 'steps', 500);
  const { sent, errors } = await simulate({
    ...endpoint,
    runId,
    name: values.name ?? 'synthetic run',
    steps,
    rate: numberOption(values.rate, 'rate', 50),
    spikeAt: numberOption(values['spike-at'], 'spike-at'),
    nanAt: numberOption(values['nan-at'], 'nan-at'),
    threshold: numberOption(values.threshold, 'threshold'),
    layers: numberOption(values.layers, 'layers'),
    log: err,
  });
  out(`sent ${sent} steps of run ${runId} to ${endpoint.url}`);
  return errors.length > 0 ? 1 : 0;
}

async function inspect(args: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, threshold: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('inspect takes exactly one log file');
  const threshold = numberOption(values.threshold, 'threshold', DEFAULT_ALERT_SETTINGS.threshold);
  await identifyLog(positionals[0]); // a missing, empty or unreadable source is refused with why
  const s = await summarizeLog(positionals[0], { ...DEFAULT_ALERT_SETTINGS, threshold });
  // Nothing read is a failure, as it is for `import`: scripts must not take an empty summary for a run.
  const status = s.steps === 0 ? 1 : 0;
  if (values.json) {
    out(stringifyKeepingNonFinite(s, 2)); // a traced origin's values may be NaN
    return status;
  }
  out(
    `run ${s.run_id ?? '(none)'}${s.name && s.name !== s.run_id ? ` "${s.name}"` : ''}: ${s.status}, ${s.steps} steps${s.duration_seconds !== null ? ` in ${formatDuration(s.duration_seconds)}` : ''}${s.framework ? `, ${s.framework}` : ''} [${LOG_FORMAT_NAMES[s.format]}]`,
  );
  if (s.steps > 0 && s.norm_steps === 0)
    out('loss only: no step logged a gradient norm, so there are no norm statistics or alerts');
  else {
    out(
      `max total norm ${s.max_total_norm === null ? '-' : fmt(s.max_total_norm)}${s.max_total_norm_step !== null ? ` at step ${s.max_total_norm_step}` : ''}; threshold ${fmt(s.threshold)} exceeded on ${s.threshold_exceeded.count} steps${s.threshold_exceeded.first_step !== null ? ` (first at ${s.threshold_exceeded.first_step})` : ''}`,
    );
    out(
      s.first_nonfinite
        ? `first non-finite norm at step ${s.first_nonfinite.step}${s.first_nonfinite.layers.length ? ` in ${quotedNames(s.first_nonfinite.layers)}` : ''} (${s.nonfinite_steps} non-finite steps)`
        : 'no non-finite norms',
    );
    const origin = s.first_nonfinite?.origin;
    if (origin)
      out(
        `  ${originLabel(origin)}${origin.snapshot ? `; replay: python -m gradient_monitor replay ${origin.snapshot}` : ''}`,
      );
    out(
      s.spikes.length
        ? `spikes at steps ${s.spikes.slice(0, 20).join(', ')}${s.spikes.length > 20 ? ', …' : ''}`
        : 'no spikes',
    );
  }
  if (s.median_total_norm !== null)
    out(
      `median ${fmt(s.median_total_norm)}, p99 ${fmt(s.p99_total_norm ?? NaN)}${s.suggested_max_norm !== null ? `; suggested max_norm ${fmt(s.suggested_max_norm)}` : ''}${s.clip_rate !== null ? `; clipped on ${(100 * s.clip_rate).toFixed(1)}% of steps` : ''}`,
    );
  const problems = describeReadProblems(positionals[0], s.read.bad_lines);
  if (problems) out(`read problems (the data around them was kept): ${problems}`);
  if (s.read.torn_tail) out('the last line was cut short (a crash while writing) and was skipped');
  for (const note of s.read.notes) out(`note: ${note}`);
  if (status !== 0)
    err(`gradient-monitor: nothing to inspect: no step with a gradient norm was read from ${positionals[0]}`);
  return status;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
