// Dashboard webview entry (the chart.js dashboard lands with issue 4).
const root = document.getElementById('root');
if (root) root.textContent = 'Gradient Monitor dashboard';
