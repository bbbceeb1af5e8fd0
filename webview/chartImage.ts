/**
 * A chart as a PNG data URL on the theme's background (a chart canvas itself is transparent,
 * unreadable on the other theme).
 */
export function chartImage(doc: Document, canvas: HTMLCanvasElement, background: string): string {
  const out = doc.createElement('canvas');
  out.width = canvas.width;
  out.height = canvas.height;
  const ctx = out.getContext('2d');
  if (!ctx) return canvas.toDataURL('image/png');
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(canvas, 0, 0);
  return out.toDataURL('image/png');
}
