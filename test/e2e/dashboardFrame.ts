/** Finding and reading the dashboard page inside real VS Code (shared by the dashboard e2e specs). */
import type { Frame } from 'playwright-core';
import type { VSCodeSession } from './harness';

export interface Hook {
  range(): { from: number; to: number };
  drawnNorms(): { x: number; y: number; step: number }[];
  drawnMarkers(): { step: number }[];
  drawnAlerts(): { kind: string; step: number }[];
  /** The threshold the chart last drew its line at; NaN when none was in view. */
  drawnThreshold(): number;
  trueMax(): number | undefined;
  /** Compare mode: per run what its line and markers draw, and its color. */
  drawnOverlay(): { name: string; color: string; norms: { y: number }[]; markers: { step: number }[] }[];
}

/** The document of a dashboard webview holding `selector`: VS Code nests each webview in two iframes. */
export async function dashboardFrame(
  vscode: VSCodeSession,
  timeoutMs = 30_000,
  selector = '#norm-chart',
): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const f of vscode.page.frames()) {
      if ((await f.$('#norm-chart').catch(() => null)) && (await f.$(selector).catch(() => null))) return f;
    }
    if (Date.now() > deadline)
      throw new Error(
        `no dashboard webview with ${selector} after ${timeoutMs} ms${'\n' + vscode.serverLog().slice(-2000)}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Reads the page's test hook. Playwright's evaluate goes through the DevTools protocol, which the
 * webview's CSP (no eval) does not block; predicates are polled from here for the same reason.
 */
export async function hook<T>(frame: Frame, fn: (h: Hook) => T): Promise<T> {
  return frame.evaluate(`(${fn.toString()})(window.__gradientMonitor)`) as Promise<T>;
}

export async function waitForHook(
  frame: Frame,
  what: string,
  fn: (h: Hook) => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await hook(frame, fn).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
