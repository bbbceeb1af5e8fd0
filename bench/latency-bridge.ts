/**
 * The page side of bench/latency.ts, loaded before the real webview bundle: a stand-in
 * `acquireVsCodeApi` that forwards the page's messages to the extension side in Node (an exposed
 * function), and a log of every drawn frame: its wall-clock end and the last step the page had
 * been sent before it, i.e. the newest step that frame drew.
 */
import type { HostMessage } from '../src/shared/webviewProtocol';
import { THEMES } from '../test/helpers/vscodeThemes';

type Win = Window & {
  __toHost(json: string): void;
  __frames: [wallMs: number, lastStep: number][];
  acquireVsCodeApi(): unknown;
};
const win = window as unknown as Win;

let state: unknown;
win.acquireVsCodeApi = () => ({
  postMessage: (m: unknown) => win.__toHost(JSON.stringify(m)),
  getState: () => state,
  setState: (s: unknown) => (state = s),
});

// Registered before the app's listener: by the time a frame runs, the app has taken in these rows.
let lastStep = -1;
window.addEventListener('message', (e: MessageEvent<HostMessage>) => {
  const m = e.data;
  const steps = m.type === 'update' ? m.append?.rows.steps : m.type === 'snapshot' ? m.rows.steps : undefined;
  if (steps && steps.length > 0) lastStep = Math.max(lastStep, steps[steps.length - 1]);
});

win.__frames = [];
const raf = window.requestAnimationFrame.bind(window);
window.requestAnimationFrame = (callback) =>
  raf((t) => {
    const drawing = lastStep;
    callback(t);
    win.__frames.push([performance.timeOrigin + performance.now(), drawing]);
  });

const theme = THEMES.dark;
document.body.classList.add(theme.bodyClass);
for (const [name, value] of Object.entries(theme.vars)) document.documentElement.style.setProperty(name, value);
