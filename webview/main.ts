/** Dashboard webview entry: connects the page to the extension and routes its messages. */
import { HostMessage } from '../src/shared/webviewProtocol';
import { DashboardApp } from './app';
import { vscodeHost } from './vscodeApi';

const app = new DashboardApp(document, vscodeHost());
window.addEventListener('message', (e: MessageEvent<HostMessage>) => app.onMessage(e.data));
// A read-only hook for tests and benchmarks (drawn data, timings); it exposes nothing the page does not show.
(window as unknown as { __gradientMonitor: object }).__gradientMonitor = app.testHook();
