/** Number and duration formatting shared by the extension host and the webview (labels, tooltips, summaries). */

/**
 * Four significant digits, or exponent notation for very large and very small magnitudes; NaN and
 * ±Infinity by name.
 */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/**
 * Layer (or other) names in a message, each quoted: a name may hold a comma or a space, and
 * `enc,0, dec` would read as three layers where `"enc,0", "dec"` reads as two.
 */
export function quotedNames(names: readonly string[]): string {
  return names.map((name) => JSON.stringify(name)).join(', ');
}

/** "45s", "12m 5s", "3h 20m", "2d 4h": two units at most, for summaries. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
