/**
 * Names the extension host and the webview both use. They live here rather than beside the alert
 * rules and the run store so that the webview depends on src/shared alone; the run store assigns a
 * protocol RunStatus to a RunState, so the compiler notices if the two lists drift apart.
 */

export type AlertKind = 'threshold' | 'nonfinite' | 'spike' | 'vanishing';

/** A run still streaming, or how it ended (the protocol's RunStatus). */
export type RunState = 'live' | 'completed' | 'failed' | 'interrupted';
