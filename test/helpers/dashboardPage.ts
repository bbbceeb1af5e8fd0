/**
 * Opens the real dashboard bundle (dist/webview.js, freshly built) in Debian's Chromium: the same
 * page and CSP the extension serves, from a local server that serves only dist/ and media/ (like
 * the panel's localResourceRoots), with the stand-in host (dashboardStandIn.ts) loaded first.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { Browser, chromium, Page } from 'playwright-core';
import { dashboardHtml } from '../../src/dashboard/html';
import { ThemeName } from './vscodeThemes';

export const REPO = path.resolve(__dirname, '..', '..');
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-dev-shm-usage',
];
const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.ttf': 'font/ttf',
  '.html': 'text/html',
  '.map': 'application/json',
};

export interface DashboardPage {
  page: Page;
  /** CSP violations and console errors seen so far. */
  problems: string[];
  close(): Promise<void>;
}

let built = false;

/** Builds the extension's bundles once per process (the test uses the real dist/webview.js). */
export function buildOnce(): void {
  if (built) return;
  execFileSync(process.execPath, [path.join(REPO, 'scripts', 'build.mjs')], { cwd: REPO, stdio: 'inherit' });
  built = true;
}

async function standInBundle(entry: string): Promise<string> {
  const out = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
  });
  return out.outputFiles[0].text;
}

/** Serves the page (known only once the origin is), the stand-in host, and files under dist/ and media/. */
function serve(html: () => string, standIn: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (type: string, body: string | Buffer): void => {
      res.writeHead(200, { 'content-type': type });
      res.end(body);
    };
    if (url.pathname === '/' || url.pathname === '/index.html') return send('text/html', html());
    if (url.pathname === '/standin.js') return send('text/javascript', standIn);
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const rel = path.normalize(decodeURIComponent(url.pathname)).replace(/^\/+/, '');
    if (!/^(dist|media)\//.test(rel)) {
      res.writeHead(404).end();
      return;
    }
    try {
      send(TYPES[path.extname(rel)] ?? 'application/octet-stream', readFileSync(path.join(REPO, rel)));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` }),
    ),
  );
}

/**
 * `standIn`: another host for the page (a script bundled for the browser) instead of
 * dashboardStandIn.ts; `beforeLoad` runs before the page loads (to expose functions to it).
 */
export async function openDashboardPage(
  opts: {
    theme?: ThemeName;
    width?: number;
    height?: number;
    standIn?: string;
    beforeLoad?: (page: Page) => Promise<void>;
  } = {},
): Promise<DashboardPage> {
  buildOnce();
  const nonce = 'dGVzdC1ub25jZS1mb3ItdGhlLXBhZ2U=';
  let html = '';
  const { server, origin } = await serve(
    () => html,
    await standInBundle(opts.standIn ?? path.join(__dirname, 'dashboardStandIn.ts')),
  );
  html = dashboardHtml({
    cspSource: origin,
    nonce,
    scriptUri: `${origin}/dist/webview.js`,
    styleUri: `${origin}/media/dashboard.css`,
    codiconsUri: `${origin}/dist/codicon.css`,
  });
  // The stand-in host must exist before the webview bundle asks for acquireVsCodeApi.
  html = html.replace(
    `<script nonce="${nonce}" src="${origin}/dist/webview.js">`,
    `<script nonce="${nonce}" src="${origin}/standin.js"></script>\n<script nonce="${nonce}" src="${origin}/dist/webview.js">`,
  );
  const browser: Browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  const page = await browser.newPage({ viewport: { width: opts.width ?? 1200, height: opts.height ?? 1500 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.exposeFunction('__reportCsp', (v: string) => problems.push(`CSP: ${v}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as unknown as { __reportCsp(v: string): void }).__reportCsp(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  await opts.beforeLoad?.(page);
  await page.goto(`${origin}/index.html#${opts.theme ?? 'dark'}`);
  await page.waitForFunction(() => '__gradientMonitor' in window);
  return {
    page,
    problems,
    async close() {
      await browser.close();
      await new Promise((r) => server.close(r));
    },
  };
}
