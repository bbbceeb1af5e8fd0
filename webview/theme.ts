/** Colors and fonts from VS Code's theme variables, re-read whenever the theme changes. */
import { mix, parseColor, Rgb, withAlpha } from './colorScale';

export interface Theme {
  foreground: string;
  muted: string;
  grid: string;
  background: string;
  norm: string;
  error: string;
  warning: string;
  /** Colors for per-layer lines, in order. */
  palette: string[];
  /** Heatmap ramp, low to high, and the color of non-finite cells. */
  heatStops: Rgb[];
  heatNonFinite: Rgb;
  tooltipBackground: string;
  tooltipForeground: string;
  tooltipBorder: string;
  fontFamily: string;
  fontSize: number;
  highContrast: boolean;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  return style.getPropertyValue(name).trim() || fallback;
}

export function readTheme(doc: Document = document): Theme {
  const style = getComputedStyle(doc.documentElement);
  const dark = doc.body.classList.contains('vscode-dark') || doc.body.classList.contains('vscode-high-contrast');
  const highContrast =
    doc.body.classList.contains('vscode-high-contrast') || doc.body.classList.contains('vscode-high-contrast-light');
  const v = (name: string, light: string, darkValue: string): string => cssVar(style, name, dark ? darkValue : light);
  const blue = v('--vscode-charts-blue', '#1a85ff', '#3794ff');
  const red = v('--vscode-charts-red', '#e51400', '#f14c4c');
  const yellow = v('--vscode-charts-yellow', '#bf8803', '#cca700');
  const orange = v('--vscode-charts-orange', '#d18616', '#d18616');
  const green = v('--vscode-charts-green', '#388a34', '#89d185');
  const purple = v('--vscode-charts-purple', '#652d90', '#b180d7');
  const background = v('--vscode-editor-background', '#ffffff', '#1e1e1e');
  const rgb = (c: string, fallback: Rgb): Rgb => parseColor(c) ?? fallback;
  const bg = rgb(background, dark ? [30, 30, 30] : [255, 255, 255]);
  return {
    foreground: v('--vscode-foreground', '#616161', '#cccccc'),
    muted: v('--vscode-descriptionForeground', '#717171', '#9d9d9d'),
    // charts.lines is drawn for sparse axes; a dense grid needs it fainter, except in high contrast.
    grid: highContrast
      ? v('--vscode-charts-lines', '#ffffff', '#ffffff')
      : withAlpha(v('--vscode-charts-lines', '#616161', '#cccccc'), dark ? 0.16 : 0.2),
    background,
    norm: blue,
    error: v('--vscode-errorForeground', red, red),
    warning: v('--vscode-editorWarning-foreground', yellow, yellow),
    palette: [blue, orange, green, purple, yellow, red, v('--vscode-charts-foreground', '#616161', '#cccccc')],
    // Low values fade toward the background so the hot cells stand out; purple marks NaN/Inf.
    heatStops: [
      mix(bg, rgb(blue, [55, 148, 255]), 0.35),
      rgb(blue, [55, 148, 255]),
      rgb(yellow, [204, 167, 0]),
      rgb(red, [241, 76, 76]),
    ],
    heatNonFinite: rgb(purple, [177, 128, 215]),
    tooltipBackground: v('--vscode-editorHoverWidget-background', '#f8f8f8', '#252526'),
    tooltipForeground: v('--vscode-editorHoverWidget-foreground', '#616161', '#cccccc'),
    tooltipBorder: v('--vscode-editorHoverWidget-border', '#c8c8c8', '#454545'),
    fontFamily: cssVar(style, '--vscode-font-family', 'system-ui, sans-serif'),
    fontSize: parseFloat(cssVar(style, '--vscode-font-size', '13px')) || 13,
    highContrast,
  };
}

/** VS Code swaps the body's theme class (and the variables) when the user changes theme. */
export function onThemeChange(doc: Document, listener: () => void): void {
  new MutationObserver(listener).observe(doc.body, { attributes: true, attributeFilter: ['class'] });
}
