/** Who may open the stream: the token, the browser Origin rule and the Host check against DNS rebinding. */
import { timingSafeEqual, createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function newToken(): string {
  // Hex, not base64url: a token starting with '-' would read as an option on command lines.
  return randomBytes(24).toString('hex');
}

/** Constant-time comparison; hashing first makes the lengths equal so length leaks nothing either. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token from `Authorization: Bearer …`, else from `?token=` for clients that cannot set headers. */
export function tokenFromRequest(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1] : undefined;
  }
  return url.searchParams.get('token') ?? undefined;
}

const LOOPBACK_HOSTS = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

export function isLoopbackAddress(host: string): boolean {
  return LOOPBACK_HOSTS.test(host) || host === '::1';
}

/** `name[:port]` or `[v6]:port`, nothing else. */
const HOST_HEADER = /^(\[[^\]]*\]|[^:[\]]+)(?::\d{1,5})?$/;

/**
 * On a loopback bind, a Host header naming anything but a loopback address means a browser was
 * pointed here through a foreign DNS name (DNS rebinding); such requests are refused, and so are
 * requests without one (every HTTP/1.1 client sends it).
 */
export function hostAllowed(hostHeader: string | undefined, boundToLoopback: boolean): boolean {
  if (!boundToLoopback) return true;
  const m = HOST_HEADER.exec(hostHeader ?? '');
  return m !== null && isLoopbackAddress(m[1]);
}

/** Browsers always send Origin; training clients do not. A page may connect only when its origin is listed. */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  return allowed.includes(origin);
}
