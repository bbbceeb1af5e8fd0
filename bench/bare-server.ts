/**
 * The transport's ceiling: a bare `ws` server that only receives and JSON.parses frames (and acks
 * them, so clients run the same flow control). Nothing is validated, stored or written.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export async function startBareServer(onSteps: (n: number) => void): Promise<{ url: string; close(): Promise<void> }> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const parsed = JSON.parse(data.toString());
      const items = Array.isArray(parsed) ? parsed : [parsed];
      let seq = -1;
      for (const m of items) if (typeof m.seq === 'number' && m.seq > seq) seq = m.seq;
      onSteps(items.length);
      if (seq >= 0) ws.send(JSON.stringify({ type: 'ack', seq }));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  return {
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/v1/stream`,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
