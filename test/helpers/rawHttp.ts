/**
 * Hand-written HTTP requests over a plain TCP socket, to see an endpoint's exact answer (status
 * line, headers, body).
 */
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, Socket } from 'node:net';

export interface RawResponse {
  statusLine: string;
  status: number;
  headers: string;
  body: string;
  /** The socket, still open, when a 101 was asked to be kept open. */
  socket?: Socket;
}

/**
 * Sends a websocket upgrade request for `path` with exactly the given extra header lines (a `Host`
 * line is added unless one is given, or `host: null` leaves it out) and returns what came back.
 * A 101 resolves as soon as its headers arrive (with the socket left open when `keepOpen`).
 */
export function rawUpgrade(
  port: number,
  path: string,
  headers: Record<string, string | null> = {},
  opts: { keepOpen?: boolean } = {},
): Promise<RawResponse> {
  const lines = [`GET ${path} HTTP/1.1`];
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'host')) lines.push(`Host: 127.0.0.1:${port}`);
  for (const [k, v] of Object.entries(headers)) if (v !== null) lines.push(`${k}: ${v}`);
  lines.push(
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
  );
  return rawRequest(port, lines.join('\r\n') + '\r\n\r\n', opts.keepOpen);
}

export function rawRequest(port: number, request: string, keepOpen = false): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let data = '';
    const finish = (open?: Socket): void => {
      const split = data.indexOf('\r\n\r\n');
      const head = split < 0 ? data : data.slice(0, split);
      const [statusLine, ...rest] = head.split('\r\n');
      resolve({
        statusLine,
        status: Number(statusLine.split(' ')[1]),
        headers: rest.join('\n'),
        body: split < 0 ? '' : data.slice(split + 4),
        socket: open,
      });
    };
    socket.on('data', (d) => {
      data += d.toString('utf8');
      if (data.startsWith('HTTP/1.1 101') && data.includes('\r\n\r\n')) {
        if (!keepOpen) socket.destroy();
        finish(keepOpen ? socket : undefined);
      }
    });
    socket.on('end', finish);
    socket.on('close', () => finish());
    socket.on('error', reject);
    socket.write(request);
  });
}
