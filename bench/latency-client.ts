/**
 * The training-script side of bench/latency.ts: streams one run at a fixed rate (frames of
 * `perFrame` steps every `intervalMs`), as a client would, and reports when it sent each frame.
 * argv: url token runId layers stepsPerSecond perFrame seconds
 */
import { WebSocket } from 'ws';

const [url, token, runId, layersArg, rateArg, perFrameArg, secondsArg] = process.argv.slice(2);
const layers = Number(layersArg);
const perFrame = Number(perFrameArg);
const intervalMs = (1000 * perFrame) / Number(rateArg);
const frames = Math.round((Number(secondsArg) * 1000) / intervalMs);
const norms = Array.from({ length: layers }, (_, i) => 0.01 + i * 0.003).join(',');

const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
/** [last step of the frame, wall-clock ms when it was handed to the socket] */
const sent: [number, number][] = [];

ws.on('open', () => {
  ws.send(
    JSON.stringify({
      type: 'run_start',
      run_id: runId,
      layers: Array.from({ length: layers }, (_, i) => `layers.${i}`),
      seq: 0,
    }),
  );
  const start = performance.now() + 200;
  let k = 0;
  const tick = (): void => {
    const lines: string[] = [];
    for (let i = 0; i < perFrame; i++) {
      const step = k * perFrame + i;
      lines.push(
        `{"type":"step","run_id":"${runId}","step":${step},"total_norm":${(1 + (step % 17) * 0.01).toFixed(3)},"layer_norms":[${norms}],"seq":${step + 1}}`,
      );
    }
    ws.send(lines.join('\n'));
    sent.push([(k + 1) * perFrame - 1, performance.timeOrigin + performance.now()]);
    k++;
    if (k >= frames) return finish();
    // Scheduled against the start time, so timer lateness does not lower the rate.
    setTimeout(tick, Math.max(0, start + k * intervalMs - performance.now()));
  };
  setTimeout(tick, 200);
});

function finish(): void {
  process.send?.({ sent });
  setTimeout(() => process.exit(0), 200);
}
ws.on('error', (e) => {
  process.stderr.write(`latency client: ${e.message}\n`);
  process.exit(1);
});
