/** The heatmap's logarithmic color scale, with colors taken from the theme. */

export type Rgb = [number, number, number];

/** Parses the colors VS Code themes use: #rgb, #rrggbb, #rrggbbaa, rgb()/rgba(). */
export function parseColor(css: string): Rgb | undefined {
  const s = css.trim();
  const hex = /^#([0-9a-f]{3,8})$/i.exec(s);
  if (hex) {
    const h = hex[1];
    if (h.length === 3 || h.length === 4) return [0, 1, 2].map((i) => parseInt(h[i] + h[i], 16)) as Rgb;
    if (h.length === 6 || h.length === 8) return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgb;
    return undefined;
  }
  const fn = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(s);
  return fn ? [Number(fn[1]), Number(fn[2]), Number(fn[3])] : undefined;
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** Color at t in [0, 1] along evenly spaced stops. */
export function ramp(stops: readonly Rgb[], t: number): Rgb {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  return mix(stops[i], stops[i + 1], x - i);
}

/** Maps a positive value to [0, 1] on a log scale between lo and hi (both > 0). */
export function logPosition(v: number, lo: number, hi: number): number {
  if (!(v > 0)) return 0;
  if (!(hi > lo)) return 1;
  return (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo));
}

/** Smallest positive and largest finite value among cells (ignoring empty and non-finite ones). */
export function positiveRange(values: Float32Array): { lo: number; hi: number } | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v > 0 && v < Infinity) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return hi > 0 ? { lo, hi } : undefined;
}

/** A theme color with an alpha, for fills and faint lines. */
export function withAlpha(color: string, alpha: number): string {
  const rgb = parseColor(color);
  return rgb ? `rgba(${rgb.join(', ')}, ${alpha})` : color;
}
