/**
 * One load-generating client process for bench/ingest.ts: streams pre-encoded step frames for one
 * run as fast as the endpoint acknowledges them (a window of frames in flight), until told to stop.
 * argv: url token runId layers stepsPerFrame window
 */
import { WebSocket } from 'ws';

const [url, token, runId, layersArg, perFrameArg, windowArg] = process.argv.slice(2);
const layers = Number(layersArg);
const perFrame = Number(perFrameArg);
const window = Number(windowArg);

const layerNames = Array.from({ length: layers }, (_, i) => `model.layers.${i}.weight`);
// Constant layer norms, encoded once: the client must cost far less than the server it measures.
const normsText = Array.from({ length: layers }, (_, i) => 0.01 + (i % 17) * 0.003).join(',');

function frame(firstStep: number, seq: number): string {
  const parts: string[] = [];
  for (let k = 0; k < perFrame; k++) {
    const step = firstStep + k;
    parts.push(`{"type":"step","run_id":${JSON.stringify(runId)},"step":${step},"total_norm":${(1 + (step % 13) * 0.01).toFixed(4)},"layer_norms":[${normsText}],"loss":0.5,"seq":${seq}}`);
  }
  return `[${parts.join(',')}]`;
}

const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
let seq = 0;
let acked = -1;
let stepsSent = 0;
let stopping = false;

function pump(): void {
  while (!stopping && seq - 1 - acked < window) {
    ws.send(frame(stepsSent, seq));
    stepsSent += perFrame;
    seq++;
  }
}

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
  if (stopping && acked >= seq - 1) finish();
  else pump();
});
ws.on('error', (e) => {
  process.stderr.write(`client error: ${e.message}\n`);
  process.exit(1);
});

function finish(): void {
  process.send?.({ steps: stepsSent, frames: seq });
  ws.close();
  setTimeout(() => process.exit(0), 50);
}

process.on('message', (m) => {
  if (m === 'stop') {
    stopping = true;
    if (acked >= seq - 1) finish();
  }
});
