/**
 * Real VS Code for end-to-end tests: code-server (cached per machine by scripts/ensure-code-server.sh)
 * with this extension copied into a fresh extensions folder, driven by Debian's headless Chromium
 * through playwright-core. Every launch gets its own user data, workspace and discovery folder.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import type { DiscoveryRecord } from '../../src/server/discovery';

export const REPO = path.resolve(__dirname, '..', '..');
export const ARTIFACTS = path.join(REPO, 'test-results');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface LaunchOptions {
  /** Files to create in the workspace, by relative path. */
  files?: Record<string, string>;
  /** User settings merged over the harness defaults. */
  settings?: Record<string, unknown>;
  /** Use this folder as the workspace instead of a fresh one. */
  workspace?: string;
  /** Install this packaged extension with code-server's --install-extension instead of copying the build. */
  vsix?: string;
  /**
   * Keep VS Code's workspace trust on, so that the fresh workspace opens untrusted (restricted mode).
   * Off by default: every other suite wants a trusted window without the trust prompt.
   */
  workspaceTrust?: boolean;
  /** A bundle to load as the copied extension's main (dist/extension.js): a test entry point wrapping the real one. */
  entry?: string;
}

export interface VSCodeSession {
  page: Page;
  workspace: string;
  /** The folder where the extension writes its discovery file (GRADIENT_MONITOR_HOME). */
  home: string;
  /** The extensions folder code-server loads the extension from. */
  extensionsDir: string;
  /** Runs a command by its palette title, e.g. "Gradient Monitor: Open Dashboard". */
  runCommand(title: string): Promise<void>;
  /** The endpoint the extension started, read from its discovery file. */
  endpoint(timeoutMs?: number): Promise<DiscoveryRecord>;
  /** Saves a full-page PNG under test-results/ and returns its path. */
  screenshot(name: string): Promise<string>;
  /** code-server's output so far, for failure messages. */
  serverLog(): string;
  /** Content-Security-Policy violations reported by any frame so far (webviews included). */
  cspViolations(): string[];
  close(): Promise<void>;
}

export function codeServerEntry(): string {
  return execFileSync('bash', [path.join(REPO, 'scripts', 'ensure-code-server.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** Copies the built extension (package.json, dist, media, the Python client) the way an installed VSIX lays it out. */
function installExtension(extensionsDir: string, mainBundle?: string): void {
  const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
    publisher: string;
    name: string;
    version: string;
  };
  const dest = path.join(extensionsDir, `${pkg.publisher}.${pkg.name}-${pkg.version}`);
  mkdirSync(dest, { recursive: true });
  const pythonClient = ['gradient_monitor', 'bootstrap', 'pyproject.toml', 'README.md'].map(
    (f) => `clients/python/${f}`,
  );
  for (const entry of ['package.json', 'dist', 'media', 'README.md', 'LICENSE', ...pythonClient]) {
    try {
      cpSync(path.join(REPO, entry), path.join(dest, entry), { recursive: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  if (mainBundle) {
    cpSync(mainBundle, path.join(dest, 'dist', 'extension.js'));
    cpSync(`${mainBundle}.map`, path.join(dest, 'dist', 'extension.js.map'));
  }
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns a value, or fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  detail = (): string => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function launchVSCode(opts: LaunchOptions = {}): Promise<VSCodeSession> {
  const entry = codeServerEntry();
  const root = mkdtempSync(path.join(os.tmpdir(), 'gm-e2e-'));
  const userData = path.join(root, 'user-data');
  const extensionsDir = path.join(root, 'extensions');
  const home = path.join(root, 'gm-home');
  const workspace = opts.workspace ?? path.join(root, 'workspace');
  mkdirSync(path.join(userData, 'User'), { recursive: true });
  mkdirSync(workspace, { recursive: true });
  for (const [rel, text] of Object.entries(opts.files ?? {})) {
    mkdirSync(path.dirname(path.join(workspace, rel)), { recursive: true });
    writeFileSync(path.join(workspace, rel), text);
  }
  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'security.workspace.trust.enabled': opts.workspaceTrust === true,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    'workbench.enableExperiments': false,
    'chat.disableAIFeatures': true,
    'remote.autoForwardPorts': false,
    ...opts.settings,
  };
  writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  writeFileSync(path.join(root, 'config.yaml'), 'auth: none\ncert: false\n');
  if (opts.vsix) {
    execFileSync(
      process.execPath,
      [entry, '--user-data-dir', userData, '--extensions-dir', extensionsDir, '--install-extension', opts.vsix],
      { stdio: 'pipe', timeout: 120_000 },
    );
  } else {
    installExtension(extensionsDir, opts.entry);
  }

  const port = await freePort();
  let log = '';
  const server: ChildProcess = spawn(
    process.execPath,
    [
      entry,
      '--config',
      path.join(root, 'config.yaml'),
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      ...(opts.workspaceTrust ? [] : ['--disable-workspace-trust']),
      '--disable-getting-started-override',
      '--user-data-dir',
      userData,
      '--extensions-dir',
      extensionsDir,
      workspace,
    ],
    {
      env: { ...process.env, GRADIENT_MONITOR_HOME: home, GRADIENT_MONITOR_URL: '', GRADIENT_MONITOR_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  server.stdout?.on('data', (d) => (log += d));
  server.stderr?.on('data', (d) => (log += d));
  const showLog = (): string => `\ncode-server output:\n${log.slice(-4000)}`;
  let browser: Browser | undefined;
  try {
    await waitFor(
      'code-server to listen',
      () =>
        log.includes('HTTP server listening')
          ? true
          : server.exitCode !== null
            ? Promise.reject(new Error(`code-server exited ${server.exitCode}${showLog()}`))
            : undefined,
      60_000,
      showLog,
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    // Chromium reports every Content-Security-Policy violation on the console of the frame it
    // happened in; webviews are frames of this page, so this catches the dashboard's too.
    const csp: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) csp.push(`${m.location().url}: ${m.text()}`);
    });
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    const b = browser;
    const session: VSCodeSession = {
      page,
      workspace,
      home,
      extensionsDir,
      async runCommand(title) {
        const input = page.locator('.quick-input-widget input');
        await page.keyboard.press('F1');
        for (let attempt = 1; ; attempt++) {
          try {
            await input.waitFor({ state: 'visible', timeout: 4_000 });
            break;
          } catch (e) {
            if (attempt === 3) throw e;
            // F1 went unheard (a webview had the keyboard, or the palette was still closing): the
            // command center in the title bar opens the same quick input wherever focus is.
            await page.locator('.command-center-center').click({ timeout: 4_000 });
          }
        }
        await input.fill(`>${title}`);
        const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
        await row.waitFor({ timeout: 10_000 });
        await page.keyboard.press('Enter');
      },
      endpoint(timeoutMs = 60_000) {
        const dir = path.join(home, 'endpoints');
        return waitFor(
          'the extension to publish its endpoint',
          () => {
            try {
              const f = readdirSync(dir).find((n) => n.endsWith('.json'));
              return f ? (JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as DiscoveryRecord) : undefined;
            } catch {
              return undefined;
            }
          },
          timeoutMs,
          showLog,
        );
      },
      async screenshot(name) {
        mkdirSync(ARTIFACTS, { recursive: true });
        const file = path.join(ARTIFACTS, `${name}.png`);
        await page.screenshot({ path: file });
        return file;
      },
      serverLog: () => log,
      cspViolations: () => [...csp],
      async close() {
        await b.close().catch(() => undefined);
        server.kill('SIGTERM');
        await new Promise((r) => (server.exitCode !== null ? r(undefined) : server.once('exit', r)));
      },
    };
    return session;
  } catch (e) {
    await browser?.close().catch(() => undefined);
    server.kill('SIGKILL');
    throw e;
  }
}
