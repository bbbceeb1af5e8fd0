/** The webview's side of the channel: typed messages to the extension and persisted state. */
import { DashboardState, WebviewMessage } from '../src/shared/webviewProtocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

export interface HostConnection {
  post(message: WebviewMessage): void;
  state(): DashboardState;
  saveState(state: DashboardState): void;
}

export function vscodeHost(): HostConnection {
  const api = acquireVsCodeApi();
  return {
    post: (message) => api.postMessage(message),
    state: () => (api.getState() as DashboardState | undefined) ?? {},
    saveState: (state) => api.setState(state),
  };
}
