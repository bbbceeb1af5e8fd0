/**
 * One client process of bench/soak.ts: streams several runs at a fixed rate, each over its own
 * reconnecting connection (as separate training processes would), reports progress to the parent
 * every second, then ends its runs, waits for every acknowledgement and reports what it sent.
 * argv: url token runIds(comma-separated) stepsPerSecond layers seconds
 */
import { ClientMessage } from '../src/protocol/messages';
import { ReconnectingClient } from '../test/helpers/reconnectingClient';

const [url, token, runList, rateArg, layersArg, secondsArg] = process.argv.slice(2);
const runs = runList.split(',');
const rate = Number(rateArg);
const layers = Number(layersArg);
const seconds = Number(secondsArg);
const TICK_MS = 100;

const clients = runs.map(() => new ReconnectingClient({ url: () => url, token }));
clients.forEach((c, i) =>
  c.send([
    {
      type: 'run_start',
      run_id: runs[i],
      framework: 'pytorch',
      layers: Array.from({ length: layers }, (_, l) => `blocks.${l}.weight`),
      meta: { client: 'bench/soak' },
    },
  ]),
);

let sent = 0; // steps per run so far
const started = Date.now();
const tick = setInterval(() => {
  // Catch up on the schedule rather than trusting the timer: a late tick sends more steps.
  const due = Math.min(Math.floor(((Date.now() - started) / 1000) * rate), seconds * rate);
  if (due <= sent) return;
  clients.forEach((c, i) => {
    const batch: ClientMessage[] = [];
    for (let step = sent; step < due; step++) {
      const total = 1 + 0.2 * Math.sin(step / 50) + 0.01 * (step % 7);
      batch.push({
        type: 'step',
        run_id: runs[i],
        step,
        total_norm: total,
        layer_norms: Array.from({ length: layers }, (_, l) => total / (l + 2)),
        loss: 2 / (1 + step / 1000),
        lr: 1e-3,
        time: Date.now() / 1000,
      });
    }
    c.send(batch);
  });
  sent = due;
}, TICK_MS);

const report = setInterval(() => {
  process.send?.({
    kind: 'progress',
    acked: clients.reduce((n, c) => n + c.ackedCount, 0),
    pending: clients.reduce((n, c) => n + c.pending, 0),
  });
}, 1000);

setTimeout(
  async () => {
    clearInterval(tick);
    clients.forEach((c, i) => c.send([{ type: 'run_end', run_id: runs[i], status: 'completed' }]));
    await Promise.all(clients.map((c) => c.drained()));
    clearInterval(report);
    const errors = clients.flatMap((c) => c.errors);
    process.send?.(
      { kind: 'done', stepsPerRun: sent, runs, errors, reconnects: clients.reduce((n, c) => n + c.connections - 1, 0) },
      () => {
        clients.forEach((c) => c.close());
        process.exit(0);
      },
    );
  },
  seconds * 1000 + TICK_MS,
);
