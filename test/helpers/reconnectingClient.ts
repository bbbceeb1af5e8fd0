/**
 * A streaming client that behaves as docs/protocol.md asks clients to: it numbers its messages,
 * keeps each one until an ack covers it, reconnects with backoff when the endpoint goes away, and
 * then resends whatever was not acknowledged. Used by the fault tests and the soak benchmark.
 */
import { WebSocket } from 'ws';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import { ClientMessage, ServerMessage } from '../../src/protocol/messages';

export interface ReconnectingClientOptions {
  /** Called before every connection attempt, so a restarted endpoint may move. */
  url: () => string;
  token: string;
  /** Most messages per resent frame. */
  resendBatch?: number;
  /** Called with the messages each ack covers (what the endpoint promised to have recorded). */
  onAck?: (messages: ClientMessage[]) => void;
}

export class ReconnectingClient {
  /** Messages sent but not yet acknowledged, in seq order. */
  private readonly unacked: ClientMessage[] = [];
  private ws?: WebSocket;
  private nextSeq = 0;
  private backoffMs = 50;
  private stopped = false;
  private drainWaiters: (() => void)[] = [];
  ackedCount = 0;
  /** Error frames received, by code. */
  readonly errors: { code: string; message: string }[] = [];
  connections = 0;

  constructor(private readonly opts: ReconnectingClientOptions) {
    this.connect();
  }

  get pending(): number {
    return this.unacked.length;
  }

  /** Sends messages as one frame (or queues them while disconnected); they are kept until acknowledged. */
  send(messages: ClientMessage[]): void {
    for (const m of messages) {
      m.seq = this.nextSeq++;
      this.unacked.push(m);
    }
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(stringifyKeepingNonFinite(messages));
  }

  /** Resolves once every message sent so far is acknowledged. */
  drained(): Promise<void> {
    return this.unacked.length === 0 ? Promise.resolve() : new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  close(): void {
    this.stopped = true;
    this.ws?.close();
  }

  private connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.opts.url(), { headers: { authorization: `Bearer ${this.opts.token}` } });
    this.ws = ws;
    ws.on('open', () => {
      this.connections++;
      this.backoffMs = 50;
      this.resend();
    });
    ws.on('message', (data) => this.onReplies(JSON.parse(data.toString()) as ServerMessage | ServerMessage[]));
    ws.on('error', () => undefined); // 'close' follows and reconnects
    ws.on('unexpected-response', () => ws.terminate());
    ws.on('close', () => {
      if (this.ws !== ws || this.stopped) return;
      setTimeout(() => this.connect(), this.backoffMs);
      this.backoffMs = Math.min(1000, this.backoffMs * 2);
    });
  }

  /** Resends every unacknowledged message on the current connection, oldest first. */
  private resend(): void {
    const batch = this.opts.resendBatch ?? 1000;
    for (let i = 0; i < this.unacked.length; i += batch)
      this.ws!.send(stringifyKeepingNonFinite(this.unacked.slice(i, i + batch)));
  }

  private onReplies(replies: ServerMessage | ServerMessage[]): void {
    for (const r of Array.isArray(replies) ? replies : [replies]) {
      if (r.type === 'ack') {
        let n = 0;
        while (n < this.unacked.length && this.unacked[n].seq! <= r.seq) n++;
        const covered = this.unacked.splice(0, n);
        this.ackedCount += n;
        this.opts.onAck?.(covered);
        if (this.unacked.length === 0) this.drainWaiters.splice(0).forEach((w) => w());
        continue;
      }
      this.errors.push({ code: r.code, message: r.message });
      // A frame refused for rate is dropped whole: send what is unacknowledged again a little later.
      if (r.code === 'rate_limited') setTimeout(() => this.ws?.readyState === WebSocket.OPEN && this.resend(), 1000);
    }
  }
}
