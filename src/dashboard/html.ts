/**
 * The dashboard page: a strict Content-Security-Policy (scripts only with this page's nonce, styles
 * and fonts only from the extension's own files, nothing remote) around a static skeleton that
 * webview/main.ts fills. Shared by the VS Code panel and the browser tests, so both run one page.
 */

export interface DashboardPageResources {
  /** `webview.cspSource`: the origin the webview serves extension files from. */
  cspSource: string;
  /** A fresh random nonce per page. */
  nonce: string;
  scriptUri: string;
  styleUri: string;
  codiconsUri: string;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource} data:`,
  ].join('; ');
}

export function dashboardHtml(r: DashboardPageResources): string {
  const attr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(r.cspSource, r.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${attr(r.codiconsUri)}">
<link rel="stylesheet" href="${attr(r.styleUri)}">
<title>Gradient Monitor</title>
</head>
<body>
<header class="toolbar" role="toolbar" aria-label="Dashboard controls">
  <label class="run-picker" title="Run">
    <span class="codicon codicon-pulse" aria-hidden="true"></span>
    <select id="run-select" aria-label="Run"></select>
  </label>
  <span id="run-state" class="badge" role="status"></span>
  <span class="spacer"></span>
  <button id="scale-toggle" type="button" aria-pressed="true" title="Logarithmic value axis (L)"><span class="codicon codicon-symbol-numeric" aria-hidden="true"></span><span>Log scale</span></button>
  <button id="follow-toggle" type="button" aria-pressed="true" title="Follow the latest steps (F)"><span class="codicon codicon-pinned" aria-hidden="true"></span><span>Follow</span></button>
  <button id="reset-zoom" type="button" title="Show the whole run (0)"><span class="codicon codicon-screen-normal" aria-hidden="true"></span><span>Whole run</span></button>
  <label class="top-k" title="How many of the largest layers to draw">
    <span class="codicon codicon-layers" aria-hidden="true"></span>
    <span>Top</span><input id="top-k" type="number" min="1" max="20" step="1" value="5" aria-label="Number of layers drawn"><span>layers</span>
  </label>
  <button id="export-csv" type="button" title="Save the visible steps as CSV, at full resolution"><span class="codicon codicon-table" aria-hidden="true"></span><span>CSV</span></button>
  <button id="export-png" type="button" title="Save the total-norm chart as a PNG image"><span class="codicon codicon-device-camera" aria-hidden="true"></span><span>PNG</span></button>
</header>
<section id="summary" class="summary" aria-label="Summary"></section>
<div id="message" class="message" role="status" hidden></div>
<section id="log-problems" class="log-problems" role="alert" hidden></section>
<section id="recorded" class="recorded" aria-labelledby="recorded-title" hidden>
  <h2 id="recorded-title"><span class="codicon codicon-checklist" aria-hidden="true"></span>Run summary<span id="recorded-status" class="aside"></span></h2>
  <dl id="recorded-facts" class="facts"></dl>
  <h3 id="recorded-alerts-title">Alerts</h3>
  <ol id="recorded-alerts" class="alert-list" aria-labelledby="recorded-alerts-title"></ol>
</section>
<main id="charts">
  <section class="panel" aria-labelledby="norm-title">
    <h2 id="norm-title"><span class="codicon codicon-graph-line" aria-hidden="true"></span>Total gradient norm<span id="resolution" class="aside"></span></h2>
    <ul id="compare-legend" class="compare-legend" aria-label="Compared runs" hidden></ul>
    <p id="norm-absent" class="message" role="status" hidden>No gradient norms were logged in this run: only its loss and learning rate, drawn below.</p>
    <div class="chart-box tall"><canvas id="norm-chart" tabindex="0" role="img" aria-label="Total gradient norm over steps"></canvas></div>
    <p class="hint">Wheel to zoom, drag to pan, Shift+drag to zoom to a range; keys: ← → pan, + − zoom, 0 whole run, F follow, L log scale.</p>
  </section>
  <section class="panel" id="loss-panel" aria-labelledby="loss-title" hidden>
    <h2 id="loss-title"><span class="codicon codicon-graph" aria-hidden="true"></span>Loss and learning rate</h2>
    <div class="chart-box short"><canvas id="loss-chart" tabindex="0" role="img" aria-label="Loss and learning rate over steps"></canvas></div>
  </section>
  <section class="panel" aria-labelledby="layers-title">
    <h2 id="layers-title"><span class="codicon codicon-layers" aria-hidden="true"></span>Largest layers in view</h2>
    <div class="chart-box"><canvas id="layer-chart" tabindex="0" role="img" aria-label="Per-layer gradient norms of the largest layers"></canvas></div>
  </section>
  <section class="panel" aria-labelledby="heatmap-title">
    <h2 id="heatmap-title"><span class="codicon codicon-flame" aria-hidden="true"></span>Layers × steps<span id="heatmap-legend" class="heat-legend"></span></h2>
    <div class="chart-box heatmap" id="heatmap-box"><canvas id="heatmap" tabindex="0" role="img" aria-label="Heatmap of per-layer gradient norms over steps"></canvas></div>
  </section>
</main>
<div id="tooltip" class="tooltip" role="tooltip" hidden></div>
<script nonce="${attr(r.nonce)}" src="${attr(r.scriptUri)}"></script>
</body>
</html>
`;
}

/** 32 random base64 characters from the platform's CSPRNG. */
export function newNonce(): string {
  const bytes = new Uint8Array(24);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes));
}
