/**
 * The streaming endpoint: `ws://HOST:PORT/v1/stream`. Every check that can be made on the HTTP
 * request (path, Host, Origin, token, connection count) happens before the upgrade, so a refused
 * client never gets a websocket. Frames from one connection are handled in order; each is decoded,
 * validated message by message, applied, and acknowledged once recorded. Applying and
 * acknowledging are two queues, so the live view keeps up while a failing disk holds acks back;
 * a connection with too much unacknowledged data is paused (TCP pushes back on its sender) instead
 * of growing the endpoint's memory. Across connections, frames are applied in slices of event-loop
 * time and reading stops while too much waits to be applied (flow.ts), so the editor hosting the
 * endpoint stays responsive under any load.
 */
import { createServer, IncomingMessage, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, RawData } from 'ws';
import { Hub } from '../ingest/hub';
import { ErrorMessage, HEALTH_PATH, ServerMessage, STREAM_PATH } from '../protocol/messages';
import { decodeFrame, ValidationLimits } from '../protocol/validate';
import type { Disposable } from '../shared/dispose';
import { DEFAULT_FLOW_LIMITS, FlowLimits, IngestFlow } from './flow';
import { hostAllowed, isLoopbackAddress, originAllowed, tokenFromRequest, tokensEqual } from './auth';

export const DEFAULT_PORT = 7451;
export const DEFAULT_HOST = '127.0.0.1';
/** A token guarding a non-loopback bind must be at least this long. */
export const MIN_NETWORK_TOKEN_LENGTH = 16;
/** Error frames in one reply; the rest of a frame's refusals are summed up in a last one. */
const MAX_ERRORS_PER_REPLY = 100;

export interface ServerOptions {
  host?: string;
  /** Preferred port; when taken, a free one is used instead (unless strictPort). 0 picks any. */
  port?: number;
  strictPort?: boolean;
  token: string;
  /**
   * The user chose the token (a setting, --token, GRADIENT_MONITOR_TOKEN) rather than it being made
   * up for this window. Required to bind a non-loopback address: an endpoint reachable from the
   * network must not depend on a token nobody decided to share.
   */
  explicitToken?: boolean;
  allowedOrigins?: readonly string[];
  /** Largest frame in bytes; a bigger one closes the connection with 1009. */
  maxFrameBytes?: number;
  maxConnections?: number;
  /** Messages accepted per connection per second, averaged over a second; excess gets an error frame. */
  maxMessagesPerSecond?: number;
  validation?: Partial<ValidationLimits>;
  /** Interval of websocket pings; a peer that misses one is dropped, freeing its connection slot. */
  heartbeatMs?: number;
  /** Received but unacknowledged bytes per connection before it is no longer read (resumed at half). */
  maxUnackedBytes?: number;
  /** How much work one event-loop turn may do, and how much may wait before all reading pauses. */
  flow?: FlowLimits;
}

/** Limits that can change while the endpoint runs: they apply from the next connection or frame on. */
export type LiveLimits = Required<
  Pick<ServerOptions, 'allowedOrigins' | 'maxConnections' | 'maxMessagesPerSecond' | 'validation'>
>;

/** Per-connection state: the two queues, flow control, the rate budget and the runs it feeds. */
interface Connection {
  ws: WebSocket;
  applied: Promise<void>;
  acked: Promise<void>;
  unackedBytes: number;
  /** Not read because of its own unacknowledged bytes (the endpoint-wide pause is the flow's). */
  paused: boolean;
  alive: boolean;
  budget: { windowStart: number; used: number };
  /** Runs this connection sent to, to tell it when their recording fails, and those it was told about. */
  runs: Set<string>;
  told: Set<string>;
}

export class GradientServer {
  private readonly http: HttpServer;
  private readonly wss: WebSocketServer;
  private readonly opts: Required<Omit<ServerOptions, 'flow'>>;
  private readonly connections = new Set<Connection>();
  private readonly flow: IngestFlow;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly recordingListener: Disposable;
  private boundHost = '';
  private boundPort = 0;

  constructor(
    readonly hub: Hub,
    options: ServerOptions,
  ) {
    if (!options.token) throw new Error('a token is required');
    const host = options.host ?? DEFAULT_HOST;
    if (!isLoopbackAddress(host)) {
      if (!options.explicitToken)
        throw new Error(
          `refusing to listen on ${host}, which the network can reach, with a generated token: set a token of your own (gradientMonitor.token, or --token for serve), or bind 127.0.0.1`,
        );
      if (options.token.length < MIN_NETWORK_TOKEN_LENGTH)
        throw new Error(
          `refusing to listen on ${host} with a token of ${options.token.length} characters: a network-reachable endpoint needs at least ${MIN_NETWORK_TOKEN_LENGTH}`,
        );
    }
    this.opts = {
      host,
      port: options.port ?? DEFAULT_PORT,
      strictPort: options.strictPort ?? false,
      token: options.token,
      explicitToken: options.explicitToken ?? false,
      allowedOrigins: options.allowedOrigins ?? [],
      maxFrameBytes: options.maxFrameBytes ?? 1024 * 1024,
      maxConnections: options.maxConnections ?? 256,
      maxMessagesPerSecond: options.maxMessagesPerSecond ?? 200_000,
      validation: options.validation ?? {},
      heartbeatMs: options.heartbeatMs ?? 30_000,
      maxUnackedBytes: options.maxUnackedBytes ?? 16 * 1024 * 1024,
    };
    this.http = createServer((req, res) => {
      const ok = new URL(req.url ?? '/', 'http://localhost').pathname === HEALTH_PATH;
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { ok: true, protocol: 1 } : { error: `not found: the stream is at ${STREAM_PATH}` }));
    });
    // Text that is not valid UTF-8 is decoded with U+FFFD rather than failing the connection (1007):
    // a client would reconnect and resend the same frame forever, and its valid messages would never land.
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.opts.maxFrameBytes,
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    this.flow = new IngestFlow(options.flow ?? DEFAULT_FLOW_LIMITS, () => {
      for (const c of this.connections) this.updateReading(c);
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.recordingListener = this.hub.subscribe('recording', (runId, error) => {
      for (const c of this.connections) {
        if (error) this.tellRecordingFailed(c, runId, error);
        else c.told.delete(runId); // recovered: the withheld acks follow, and a new failure is news again
      }
    });
    this.heartbeat = setInterval(() => this.ping(), this.opts.heartbeatMs).unref();
  }

  updateLimits(limits: LiveLimits): void {
    this.opts.allowedOrigins = limits.allowedOrigins;
    this.opts.maxConnections = limits.maxConnections;
    this.opts.maxMessagesPerSecond = limits.maxMessagesPerSecond;
    this.opts.validation = limits.validation;
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
    clearInterval(this.heartbeat);
    this.recordingListener.dispose();
    for (const c of this.connections) c.ws.close(1001, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const c of this.connections) c.ws.terminate();
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
      socket.end(
        `HTTP/1.1 ${status} ${httpReason(status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    if (url.pathname !== STREAM_PATH) return refuse(404, `not found: the stream is at ${STREAM_PATH}`);
    if (!hostAllowed(req.headers.host, isLoopbackAddress(this.opts.host)))
      return refuse(403, 'forbidden Host header: connect through a loopback address');
    const origin = req.headers.origin;
    if (!originAllowed(origin, this.opts.allowedOrigins))
      return refuse(403, `origin ${origin} is not allowed (gradientMonitor.allowedOrigins)`);
    const token = tokenFromRequest(req, url);
    if (token === undefined || !tokensEqual(token, this.opts.token)) return refuse(401, 'missing or wrong token');
    if (this.connections.size >= this.opts.maxConnections)
      return refuse(503, `too many connections (limit ${this.opts.maxConnections})`);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    const c: Connection = {
      ws,
      applied: Promise.resolve(),
      acked: Promise.resolve(),
      unackedBytes: 0,
      paused: false,
      alive: true,
      budget: { windowStart: Date.now(), used: 0 },
      runs: new Set(),
      told: new Set(),
    };
    this.connections.add(c);
    this.updateReading(c);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = frameBytes(data);
      this.hold(c, bytes);
      this.flow.received(bytes);
      // Frames are applied strictly in order, each in a slice of event-loop time; a failure is a bug,
      // never a client's fault, but it must not take the endpoint down.
      c.applied = c.applied
        .then(() => this.flow.turn())
        .then(() => this.onFrame(c, data, isBinary, bytes))
        .catch(() => ws.close(1011, 'internal error'))
        .finally(() => this.flow.done(bytes));
    });
    ws.on('pong', () => (c.alive = true));
    ws.on('error', () => ws.terminate()); // e.g. a frame over maxPayload: ws has already sent 1009
    ws.on('close', () => this.connections.delete(c));
  }

  private async onFrame(c: Connection, data: RawData, isBinary: boolean, bytes: number): Promise<void> {
    if (isBinary)
      return this.reply(c, bytes, [
        { type: 'error', code: 'bad_message', message: 'frames must be JSON text, not binary' },
      ]);
    const frame = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const { messages, verbatim, errors } = decodeFrame(frame.toString('utf8'), this.opts.validation, frame);
    const replies: ServerMessage[] = errors;
    if (!this.withinRate(c, messages.length + errors.length)) {
      replies.push({
        type: 'error',
        code: 'rate_limited',
        message: `more than ${this.opts.maxMessagesPerSecond} messages per second on one connection: this frame's ${messages.length} messages were dropped, send them again later`,
      });
      return this.reply(c, bytes, replies);
    }
    if (messages.length === 0) return this.reply(c, bytes, replies);
    const { rejected, runIds, recorded } = await this.hub.ingest(messages, verbatim);
    const refused = new Set(rejected.map((r) => r.index));
    for (const r of rejected)
      replies.push({ type: 'error', code: 'limit_exceeded', message: r.message, run_id: messages[r.index].run_id });
    let maxSeq = -1;
    messages.forEach((m, i) => {
      if (!refused.has(i) && m.seq !== undefined && m.seq > maxSeq) maxSeq = m.seq;
    });
    if (maxSeq >= 0) replies.push({ type: 'ack', seq: maxSeq });
    for (const id of runIds) {
      if (c.runs.size < 4096) c.runs.add(id);
      const failure = this.hub.recordingFailure(id);
      if (failure) this.tellRecordingFailed(c, id, failure);
    }
    this.reply(c, bytes, replies, recorded);
  }

  /** Sends a frame's replies once its messages are recorded, after every earlier frame's. */
  private reply(c: Connection, bytes: number, replies: ServerMessage[], recorded?: Promise<void>): void {
    c.acked = c.acked.then(async () => {
      await recorded;
      this.release(c, bytes);
      send(c.ws, capErrors(replies));
    });
  }

  private withinRate(c: Connection, items: number): boolean {
    const now = Date.now();
    if (now - c.budget.windowStart >= 1000) {
      c.budget.windowStart = now;
      c.budget.used = 0;
    }
    if (c.budget.used + items > this.opts.maxMessagesPerSecond) return false;
    c.budget.used += items;
    return true;
  }

  /** Flow control: a connection holding too many unacknowledged bytes stops being read. */
  private hold(c: Connection, bytes: number): void {
    c.unackedBytes += bytes;
    if (!c.paused && c.unackedBytes > this.opts.maxUnackedBytes) {
      c.paused = true;
      this.updateReading(c);
    }
  }

  private release(c: Connection, bytes: number): void {
    c.unackedBytes -= bytes;
    if (c.paused && c.unackedBytes <= this.opts.maxUnackedBytes / 2) {
      c.paused = false;
      this.updateReading(c);
    }
  }

  /** A connection is read unless it holds too much unacknowledged, or the whole endpoint is behind. */
  private updateReading(c: Connection): void {
    if (this.reading(c)) c.ws.resume();
    else c.ws.pause();
  }

  private reading(c: Connection): boolean {
    return !c.paused && this.flow.receiving;
  }

  /** Tells a connection feeding a run, once per failure, that the run's log cannot be written for now. */
  private tellRecordingFailed(c: Connection, runId: string, error: Error): void {
    if (!c.runs.has(runId) || c.told.has(runId)) return;
    c.told.add(runId);
    send(c.ws, [
      {
        type: 'error',
        code: 'recording_failed',
        run_id: runId,
        message: `cannot write the log of run ${runId}: ${error.message}; messages are kept in memory and acknowledged once written`,
      },
    ]);
  }

  /** Drops peers that did not answer the previous ping (a vanished laptop, a half-open socket). */
  private ping(): void {
    for (const c of this.connections) {
      if (!this.reading(c)) {
        c.alive = true; // its pong sits unread behind the frames we are not reading: not its fault
        continue;
      }
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}

function frameBytes(data: RawData): number {
  return Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
}

function send(ws: WebSocket, replies: readonly ServerMessage[]): void {
  if (replies.length === 0 || ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify(replies.length === 1 ? replies[0] : replies));
}

/** Keeps a reply small whatever the frame held: the first errors in full, then a count of the rest. */
function capErrors(replies: ServerMessage[]): ServerMessage[] {
  const errors = replies.filter((r) => r.type === 'error');
  if (errors.length <= MAX_ERRORS_PER_REPLY) return replies;
  const rest = errors.length - (MAX_ERRORS_PER_REPLY - 1);
  const summary: ErrorMessage = {
    type: 'error',
    code: 'bad_message',
    message: `and ${rest} more messages of this frame were refused (only the first ${MAX_ERRORS_PER_REPLY - 1} are listed)`,
  };
  return [...errors.slice(0, MAX_ERRORS_PER_REPLY - 1), summary, ...replies.filter((r) => r.type === 'ack')];
}

function httpReason(status: number): string {
  return (
    ({ 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' } as Record<number, string>)[
      status
    ] ?? 'Error'
  );
}
