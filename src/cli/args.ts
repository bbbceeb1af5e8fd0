/** Small helpers shared by the CLI commands. */
import { listDiscovery, pickEndpoint } from '../server/discovery';

export class UsageError extends Error {}

export function numberOption(value: string | undefined, name: string, fallback: number): number;
export function numberOption(value: string | undefined, name: string, fallback?: number): number | undefined;
export function numberOption(value: string | undefined, name: string, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Endpoint from flags, else the environment VS Code's terminals get, else the discovery file that
 * fits the working directory.
 */
export function resolveEndpoint(url: string | undefined, token: string | undefined): { url: string; token: string } {
  const found = pickEndpoint(listDiscovery(), process.cwd());
  // An empty variable counts as unset (the e2e harness and some shells export empty values).
  const u = url || process.env.GRADIENT_MONITOR_URL || found?.url;
  const t = token || process.env.GRADIENT_MONITOR_TOKEN || (u === found?.url ? found?.token : undefined);
  if (!u)
    throw new UsageError(
      'no endpoint: pass --url, set GRADIENT_MONITOR_URL, or start VS Code with the extension (or `gradient-monitor serve`)',
    );
  if (!t) throw new UsageError(`no token for ${u}: pass --token or set GRADIENT_MONITOR_TOKEN`);
  return { url: u, token: t };
}
