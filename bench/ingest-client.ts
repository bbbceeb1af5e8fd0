/**
 * One load-generating client process for bench/ingest.ts: streams pre-encoded step frames for one
 * or more runs (one connection each) as fast as the endpoint acknowledges them (a window of frames
 * in flight), until told to stop. Tells its parent 'streaming' once every connection has had an ack.
 * argv: url token runIds(comma-separated) layers stepsPerFrame window format(ndjson|array)
 */
import { WebSocket } from 'ws';

const [url, token, runIdsArg, layersArg, perFrameArg, windowArg, format] = process.argv.slice(2);
const layers = Number(layersArg);
const perFrame = Number(perFrameArg);
const window = Number(windowArg);

const layerNames = Array.from({ length: layers }, (_, i) => `model.layers.${i}.weight`);
// Constant layer norms, encoded once: the client must cost far less than the server it measures.
const normsText = Array.from({ length: layers }, (_, i) => 0.01 + (i % 17) * 0.003).join(',');

function frame(runId: string, firstStep: number, seq: number): string {
  const parts: string[] = [];
  for (let k = 0; k < perFrame; k++) {
    const step = firstStep + k;
    parts.push(
      `{"type":"step","run_id":${JSON.stringify(runId)},"step":${step},"total_norm":${(1 + (step % 13) * 0.01).toFixed(4)},"layer_norms":[${normsText}],"loss":0.5,"seq":${seq}}`,
    );
  }
  return format === 'array' ? `[${parts.join(',')}]` : parts.join('\n');
}

interface Stream {
  steps: number;
  streaming: boolean;
  finished: boolean;
  /** Finishes once every frame sent so far is acknowledged. */
  stop(): void;
}

const streams: Stream[] = [];
let stopping = false;

function open(runId: string): Stream {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
  let seq = 0;
  let acked = -1;
  const s: Stream = {
    steps: 0,
    streaming: false,
    finished: false,
    stop: () => {
      if (acked >= seq - 1) finish();
    },
  };
  const pump = (): void => {
    while (!stopping && seq - 1 - acked < window) {
      ws.send(frame(runId, s.steps, seq));
      s.steps += perFrame;
      seq++;
    }
  };
  const finish = (): void => {
    if (s.finished) return;
    s.finished = true;
    ws.close();
    if (streams.every((x) => x.finished)) done();
  };
  ws.on('open', () => {
    ws.send(JSON.stringify({ type: 'run_start', run_id: runId, layers: layerNames, framework: 'other', seq: seq++ }));
    pump();
  });
  ws.on('message', (data) => {
    const replies = JSON.parse(data.toString());
    for (const r of Array.isArray(replies) ? replies : [replies]) {
      if (r.type === 'ack') acked = Math.max(acked, r.seq);
      else process.stderr.write(`endpoint error: ${r.message}\n`);
    }
    if (!s.streaming) {
      s.streaming = true;
      if (streams.every((x) => x.streaming)) process.send?.('streaming');
    }
    if (stopping && acked >= seq - 1) finish();
    else pump();
  });
  ws.on('error', (e) => {
    process.stderr.write(`client error: ${e.message}\n`);
    process.exit(1);
  });
  return s;
}

function done(): void {
  process.send?.({ steps: streams.reduce((n, s) => n + s.steps, 0) });
  setTimeout(() => process.exit(0), 50);
}

for (const runId of runIdsArg.split(',')) streams.push(open(runId));

process.on('message', (m) => {
  if (m !== 'stop') return;
  stopping = true;
  for (const s of streams) s.stop();
});
