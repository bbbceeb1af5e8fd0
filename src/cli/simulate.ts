/** `gradient-monitor simulate`: streams a synthetic run to an endpoint at a given rate, batching frames. */
import { WebSocket } from 'ws';
import { ClientMessage, ServerMessage } from '../protocol/messages';
import { stringifyKeepingNonFinite } from '../protocol/json';
import { runStartFor, SyntheticOptions, syntheticSteps } from './synthetic';

export interface SimulateOptions extends SyntheticOptions {
  url: string;
  token: string;
  /** Steps per second; 0 sends as fast as the socket takes them. */
  rate: number;
  log?: (line: string) => void;
}

export async function simulate(o: SimulateOptions): Promise<{ sent: number; errors: string[] }> {
  const ws = new WebSocket(o.url, { headers: { authorization: `Bearer ${o.token}` } });
  const errors: string[] = [];
  let acked = -1;
  let seq = 0;
  const ackWaiters: (() => void)[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`endpoint refused the connection: HTTP ${res.statusCode}`)),
    );
  });
  ws.on('message', (data) => {
    const parsed = JSON.parse(data.toString()) as ServerMessage | ServerMessage[];
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
      if (m.type === 'ack') {
        acked = m.seq;
        ackWaiters.splice(0).forEach((w) => w());
      } else {
        errors.push(m.message);
        o.log?.(`endpoint error: ${m.message}`);
      }
    }
  });
  const sendBatch = (batch: ClientMessage[]): void => {
    for (const m of batch) m.seq = seq++;
    ws.send(stringifyKeepingNonFinite(batch));
  };
  sendBatch([
    runStartFor(o, {
      pid: process.pid,
      argv: process.argv.slice(1),
      cwd: process.cwd(),
      source: 'gradient-monitor simulate',
    }),
  ]);
  const started = Date.now();
  const tickMs = 20;
  let batch: ClientMessage[] = [];
  let sent = 0;
  for (const m of syntheticSteps(o)) {
    // A step more than a tick ahead of its time waits for it: what is batched goes out first.
    const ahead = (o.rate > 0 ? started + (sent / o.rate) * 1000 : 0) - Date.now();
    if (batch.length >= 1000 || ahead > tickMs) {
      if (batch.length > 0) sendBatch(batch);
      batch = [];
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    }
    batch.push(m);
    sent++;
  }
  batch.push({ type: 'run_end', run_id: o.runId, status: 'completed' });
  sendBatch(batch);
  const last = seq - 1;
  while (acked < last) await new Promise<void>((r) => ackWaiters.push(r));
  ws.close();
  return { sent, errors };
}
