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

/**
 * Color at t in [0, 1] along evenly spaced stops, interpolated in HSL the short way round the hue
 * circle: blue to yellow passes through cyan and green, where RGB would pass through grey.
 */
export function ramp(stops: readonly Rgb[], t: number): Rgb {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const [h1, s1, l1] = toHsl(stops[i]);
  const [h2, s2, l2] = toHsl(stops[i + 1]);
  let dh = h2 - h1;
  if (dh > 180) dh -= 360;
  if (dh < -180) dh += 360;
  return fromHsl([(h1 + dh * f + 360) % 360, s1 + (s2 - s1) * f, l1 + (l2 - l1) * f]);
}

/** Colors in a ramp table: enough that neighbours differ by less than one 8-bit channel step. */
export const RAMP_STEPS = 256;

/**
 * The ramp sampled at RAMP_STEPS evenly spaced positions, as RGB bytes: a heatmap of 64 layers has
 * tens of thousands of cells, and interpolating in HSL for each of them cost about 10 ms a frame.
 */
export function rampTable(stops: readonly Rgb[]): Uint8ClampedArray {
  const table = new Uint8ClampedArray(RAMP_STEPS * 3);
  for (let i = 0; i < RAMP_STEPS; i++) table.set(ramp(stops, i / (RAMP_STEPS - 1)).map(Math.round), i * 3);
  return table;
}

/** RGB (0-255) to hue (degrees), saturation and lightness (0-1). */
export function toHsl([r, g, b]: Rgb): Rgb {
  const [rn, gn, bn] = [r / 255, g / 255, b / 255];
  const max = Math.max(rn, gn, bn);
  const min = Math.min(rn, gn, bn);
  const l = (max + min) / 2;
  const d = max - min;
  if (d === 0) return [0, 0, l];
  const s = d / (1 - Math.abs(2 * l - 1));
  const h = max === rn ? ((gn - bn) / d + 6) % 6 : max === gn ? (bn - rn) / d + 2 : (rn - gn) / d + 4;
  return [h * 60, s, l];
}

export function fromHsl([h, s, l]: Rgb): Rgb {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] =
    h < 60
      ? [c, x, 0]
      : h < 120
        ? [x, c, 0]
        : h < 180
          ? [0, c, x]
          : h < 240
            ? [0, x, c]
            : h < 300
              ? [x, 0, c]
              : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
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
