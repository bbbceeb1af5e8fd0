/**
 * The streaming endpoint: `ws://HOST:PORT/v1/stream`. Every check that can be made on the HTTP
 * request (path, Host, Origin, token, connection count) happens before the upgrade, so a refused
 * client never gets a websocket. Frames from one connection are handled in order; each is decoded,
 * validated message by message, ingested, and acknowledged once recorded.
 */
import { createServer, IncomingMessage, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, RawData } from 'ws';
import { Hub } from '../ingest/hub';
import { ServerMessage, STREAM_PATH } from '../protocol/messages';
import { decodeFrame, DEFAULT_VALIDATION_LIMITS, ValidationLimits } from '../protocol/validate';
import { hostAllowed, isLoopbackAddress, originAllowed, tokenFromRequest, tokensEqual } from './auth';

export const DEFAULT_PORT = 7451;
export const DEFAULT_HOST = '127.0.0.1';

export interface ServerOptions {
  host?: string;
  /** Preferred port; when taken, a free one is used instead (unless strictPort). 0 picks any. */
  port?: number;
  strictPort?: boolean;
  token: string;
  allowedOrigins?: readonly string[];
  /** Largest frame in bytes; a bigger one closes the connection with 1009. */
  maxFrameBytes?: number;
  maxConnections?: number;
  /** Messages accepted per connection per second, averaged over a second; excess gets an error frame. */
  maxMessagesPerSecond?: number;
  validation?: ValidationLimits;
}

export interface ConnectionInfo {
  id: number;
  remote: string;
}

export class GradientServer {
  private readonly http: HttpServer;
  private readonly wss: WebSocketServer;
  private readonly opts: Required<Omit<ServerOptions, 'validation'>> & { validation: ValidationLimits };
  private nextConnectionId = 1;
  private connections = new Set<WebSocket>();
  private boundHost = '';
  private boundPort = 0;

  constructor(readonly hub: Hub, options: ServerOptions) {
    if (!options.token) throw new Error('a token is required');
    this.opts = {
      host: options.host ?? DEFAULT_HOST,
      port: options.port ?? DEFAULT_PORT,
      strictPort: options.strictPort ?? false,
      token: options.token,
      allowedOrigins: options.allowedOrigins ?? [],
      maxFrameBytes: options.maxFrameBytes ?? 1024 * 1024,
      maxConnections: options.maxConnections ?? 256,
      maxMessagesPerSecond: options.maxMessagesPerSecond ?? 200_000,
      validation: options.validation ?? DEFAULT_VALIDATION_LIMITS,
    };
    this.http = createServer((req, res) => {
      const body = req.url?.startsWith('/v1/health') ? JSON.stringify({ ok: true, protocol: 1 }) : undefined;
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(body ?? JSON.stringify({ error: `not found: the stream is at ${STREAM_PATH}` }));
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.opts.maxFrameBytes, perMessageDeflate: false });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  async listen(): Promise<{ host: string; port: number; url: string }> {
    const { host, port, strictPort } = this.opts;
    try {
      await this.listenOn(host, port);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || strictPort || port === 0) throw e;
      await this.listenOn(host, 0);
    }
    const addr = this.http.address() as AddressInfo;
    this.boundHost = host;
    this.boundPort = addr.port;
    return { host, port: addr.port, url: this.url };
  }

  get url(): string {
    const host = this.boundHost.includes(':') ? `[${this.boundHost}]` : this.boundHost;
    return `ws://${host}:${this.boundPort}${STREAM_PATH}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    for (const ws of this.connections) ws.close(1001, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const ws of this.connections) ws.terminate();
    this.http.closeAllConnections?.();
  }

  private listenOn(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => {
        this.http.off('listening', onListening);
        reject(e);
      };
      const onListening = (): void => {
        this.http.off('error', onError);
        resolve();
      };
      this.http.once('error', onError);
      this.http.once('listening', onListening);
      this.http.listen(port, host);
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: number, reason: string): void => {
      const body = JSON.stringify({ error: reason });
      socket.end(`HTTP/1.1 ${status} ${httpReason(status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    if (url.pathname !== STREAM_PATH) return refuse(404, `not found: the stream is at ${STREAM_PATH}`);
    if (!hostAllowed(req.headers.host, isLoopbackAddress(this.opts.host))) return refuse(403, 'forbidden Host header: connect through a loopback address');
    const origin = req.headers.origin;
    if (!originAllowed(origin, this.opts.allowedOrigins)) return refuse(403, `origin ${origin} is not allowed (gradientMonitor.allowedOrigins)`);
    const token = tokenFromRequest(req, url);
    if (token === undefined || !tokensEqual(token, this.opts.token)) return refuse(401, 'missing or wrong token');
    if (this.connections.size >= this.opts.maxConnections) return refuse(503, `too many connections (limit ${this.opts.maxConnections})`);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, { id: this.nextConnectionId++, remote: req.socket.remoteAddress ?? '?' }));
  }

  private onConnection(ws: WebSocket, _info: ConnectionInfo): void {
    this.connections.add(ws);
    let applied = Promise.resolve();
    let replied = Promise.resolve();
    const budget = { windowStart: Date.now(), used: 0 };
    ws.on('message', (data: RawData, isBinary: boolean) => {
      // Frames are applied strictly in order; each frame's reply (its ack) waits until it is on
      // disk, in order too, while later frames are already being applied.
      applied = applied
        .then(() => this.onFrame(data, isBinary, budget))
        .then(({ reply, recorded }) => {
          replied = replied.then(() => recorded).then(() => send(ws, reply));
        })
        .catch(() => ws.close(1011, 'internal error'));
    });
    ws.on('error', () => ws.terminate()); // e.g. a frame over maxPayload: ws has already sent 1009
    ws.on('close', () => this.connections.delete(ws));
  }

  private async onFrame(data: RawData, isBinary: boolean, budget: { windowStart: number; used: number }): Promise<{ reply: ServerMessage[]; recorded: Promise<void> }> {
    const done = Promise.resolve();
    if (isBinary) return { reply: [{ type: 'error', code: 'bad_message', message: 'frames must be JSON text, not binary' }], recorded: done };
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const { messages, verbatim, errors } = decodeFrame(text, this.opts.validation);
    const reply: ServerMessage[] = errors;
    const now = Date.now();
    if (now - budget.windowStart >= 1000) {
      budget.windowStart = now;
      budget.used = 0;
    }
    budget.used += messages.length;
    if (budget.used > this.opts.maxMessagesPerSecond) {
      reply.push({ type: 'error', code: 'rate_limited', message: `more than ${this.opts.maxMessagesPerSecond} messages per second on one connection: ${messages.length} dropped, send them again later` });
      return { reply, recorded: done };
    }
    if (messages.length === 0) return { reply, recorded: done };
    const { rejected, recorded } = await this.hub.ingest(messages, verbatim);
    const refused = new Set(rejected.map((r) => r.index));
    for (const r of rejected) reply.push({ type: 'error', code: 'limit_exceeded', message: r.message, run_id: messages[r.index].run_id });
    let maxSeq = -1;
    messages.forEach((m, i) => {
      if (!refused.has(i) && m.seq !== undefined && m.seq > maxSeq) maxSeq = m.seq;
    });
    if (maxSeq >= 0) reply.push({ type: 'ack', seq: maxSeq });
    return { reply, recorded };
  }
}

function send(ws: WebSocket, replies: readonly ServerMessage[]): void {
  if (replies.length === 0 || ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify(replies.length === 1 ? replies[0] : replies));
}

function httpReason(status: number): string {
  return ({ 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' } as Record<number, string>)[status] ?? 'Error';
}
