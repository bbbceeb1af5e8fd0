// Renders the activity-bar glyph (media/gradient-monitor.svg, drawn in currentColor) into the
// marketplace icon media/icon.png: 128x128, the glyph in light strokes on a dark rounded tile.
// Run after changing the SVG: node scripts/render-icon.mjs (needs /usr/bin/chromium).
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const svg = readFileSync('media/gradient-monitor.svg', 'utf8').replace(
  /width="24" height="24"/,
  'width="92" height="92"',
);
const html = `<!doctype html><html><body style="margin:0;background:transparent">
<div id="tile" style="width:128px;height:128px;border-radius:24px;display:flex;align-items:center;justify-content:center;
  background:linear-gradient(135deg,#1e3a5f,#0f1f33);color:#ffb347">${svg}</div></body></html>`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const page = await browser.newPage({ viewport: { width: 128, height: 128 }, deviceScaleFactor: 1 });
  await page.setContent(html);
  await page.locator('#tile').screenshot({ path: 'media/icon.png', omitBackground: true });
} finally {
  await browser.close();
}
