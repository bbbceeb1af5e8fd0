// Runs in the baseline page of bench/chart-baselines.ts (plain browser JavaScript, loaded after
// chart.js or uPlot): draws steps x (1 + layers) points, then appends 100 steps `updates` times.
/* global Chart, uPlot */

/** The same synthetic shape as the dashboard stand-in: decaying layer norms with noise. */
function series(steps, layers) {
  const x = new Float64Array(steps);
  const ys = Array.from({ length: layers + 1 }, () => new Float64Array(steps));
  let seed = 1;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < steps; i++) {
    x[i] = i;
    const decay = 0.5 + 1.5 * Math.exp(-i / 200000);
    let sum = 0;
    for (let l = 0; l < layers; l++) {
      const v = (0.3 + 0.1 * l) * decay * (0.8 + 0.4 * random());
      ys[l + 1][i] = v;
      sum += v * v;
    }
    ys[0][i] = Math.sqrt(sum);
  }
  return { x, ys };
}

const frame = () => new Promise((r) => requestAnimationFrame(() => r()));

function median(times) {
  const s = [...times].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : NaN;
}

async function drawWithChartJs({ steps, layers, updates }) {
  const { x, ys } = series(steps, layers);
  const datasets = ys.map((y, k) => ({
    label: k === 0 ? 'total' : `layer ${k}`,
    data: Array.from(y, (v, i) => ({ x: x[i], y: v })),
    borderWidth: 1,
    pointRadius: 0,
    normalized: true,
    parsing: false,
  }));
  const t0 = performance.now();
  const chart = new Chart(document.getElementById('c'), {
    type: 'line',
    data: { datasets },
    options: {
      animation: false,
      responsive: false,
      spanGaps: true,
      events: [],
      plugins: { decimation: { enabled: false }, legend: { display: false } },
      scales: { x: { type: 'linear' }, y: { type: 'logarithmic' } },
    },
  });
  await frame();
  const firstDrawMs = performance.now() - t0;
  const times = [];
  for (let u = 0; u < updates; u++) {
    const start = performance.now();
    const from = steps + u * 100;
    for (const d of chart.data.datasets)
      for (let i = from; i < from + 100; i++) d.data.push({ x: i, y: 1 + Math.random() });
    chart.update('none');
    times.push(performance.now() - start);
    await frame();
  }
  return { firstDrawMs, updateMs: median(times), updates: times };
}

async function drawWithUPlot({ steps, layers, updates }) {
  const { x, ys } = series(steps, layers);
  // uPlot draws in a microtask after setData: its draw hook says when a draw ended.
  let drawnAt = NaN;
  const opts = {
    hooks: { draw: [() => (drawnAt = performance.now())] },
    width: 1100,
    height: 700,
    scales: { x: { time: false }, y: { distr: 3 } },
    legend: { show: false },
    cursor: { show: false },
    series: [{}, ...ys.map((_, k) => ({ label: String(k), stroke: k === 0 ? 'red' : 'gray', width: 1 }))],
  };
  const box = document.getElementById('box');
  box.replaceChildren();
  const t0 = performance.now();
  const plot = new uPlot(opts, [x, ...ys], box);
  await frame();
  const firstDrawMs = drawnAt - t0;
  const times = [];
  let data = [x, ...ys];
  for (let u = 0; u < updates; u++) {
    const start = performance.now();
    // Typed arrays cannot grow: a streaming uPlot chart copies its columns on every append.
    data = data.map((col, k) => {
      const next = new Float64Array(col.length + 100);
      next.set(col);
      for (let i = col.length; i < next.length; i++) next[i] = k === 0 ? i : 1 + Math.random();
      return next;
    });
    plot.setData(data);
    await frame();
    times.push(drawnAt - start);
  }
  return { firstDrawMs, updateMs: median(times), updates: times };
}

window.drawBaseline = (args) => (args.library === 'chartjs' ? drawWithChartJs(args) : drawWithUPlot(args));
