/** Starts a real endpoint (Hub + GradientServer on 127.0.0.1, free port) over a temporary log folder. */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WebSocket } from 'ws';
import { Hub } from '../../src/ingest/hub';
import { RunStore, RunStoreOptions } from '../../src/runs/runStore';
import { GradientServer, ServerOptions } from '../../src/server/server';

export const TOKEN = 'test-token';

export interface TestEndpoint {
  hub: Hub;
  server: GradientServer;
  url: string;
  logDir: string;
  close(): Promise<void>;
}

export async function startEndpoint(
  opts: Partial<ServerOptions> = {},
  store: RunStoreOptions = {},
  logDir = mkdtempSync(path.join(os.tmpdir(), 'gm-logs-')),
): Promise<TestEndpoint> {
  const hub = new Hub(new RunStore(store), logDir);
  const server = new GradientServer(hub, { port: 0, token: TOKEN, ...opts });
  const { url } = await server.listen();
  return {
    hub,
    server,
    url,
    logDir,
    async close() {
      await server.close();
      await hub.close();
    },
  };
}

/** A connected client that collects every server reply. */
export async function connect(
  url: string,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
): Promise<{ ws: WebSocket; replies: unknown[]; next(): Promise<unknown> }> {
  const ws = new WebSocket(url, { headers });
  const replies: unknown[] = [];
  const waiters: ((v: unknown) => void)[] = [];
  ws.on('message', (d) => {
    const v = JSON.parse(d.toString());
    const w = waiters.shift();
    if (w) w(v);
    else replies.push(v);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    replies,
    next: () => (replies.length > 0 ? Promise.resolve(replies.shift()) : new Promise((r) => waiters.push(r))),
  };
}

/** The HTTP status a refused upgrade gets, or 101 when it was accepted. */
export function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (e) => reject(e));
  });
}
