// The dashboard's browser code: announces `ready`, validates every message from the host, and
// draws what the engine found. It imports only src/shared; the page is built with createElement
// and textContent (never innerHTML), and charts are built once and updated in place. The sections
// live beside this file (nowSection, liveCharts, analysisSection, historySection, taskDetail); this
// file applies each message to the page state and asks the sections it touches to redraw.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '../media/dashboard.css';
import { parseToWebview, PROTOCOL_VERSION, type DashboardState, type ToWebview } from '../src/shared/protocol';
import { readTheme } from './charts';
import { h, replace } from './dom';
import { renderAnalysis } from './analysisSection';
import { clusterSectionElement, renderCluster, renderClusterTasks, tickCluster } from './clusterSection';
import { buildSkeleton, el } from './layout';
import { appendSnapshot, charts, drawLiveCharts, makeCharts } from './liveCharts';
import { renderActive, renderEmpty, renderGpuAvailability, renderNow, renderStatus } from './nowSection';
import { page, persist, send } from './page';
import { renderComparison } from './compareSection';
import { renderHistory } from './historySection';
import { renderDetail } from './taskDetail';

function showNotice(level: 'info' | 'warning' | 'error', text: string): void {
  el.notice.className = `notice notice-${level}`;
  replace(el.notice, h('span', null, text), h('button', { class: 'link', on: { click: () => el.notice.classList.add('hidden') } }, 'Dismiss'));
}

// ---------------------------------------------------------------------------------------------
// Messages

function applyState(next: DashboardState): void {
  page.state = next;
  page.clockOffsetMs = next.now - Date.now();
  page.range = next.range;
  page.windowHours = next.windowHours;
  persist();
  syncSelect('range-select', page.range);
  syncSelect('window-select', String(page.windowHours));
  renderStatus();
  renderNow();
  drawLiveCharts();
  renderActive(next.activeTasks);
  renderEmpty();
  renderAnalysis(next.analysis);
  if (page.selected) send({ type: 'selectTask', taskId: page.selected.taskId, startTime: page.selected.startTime });
}

function syncSelect(id: string, value: string): void {
  const sel = document.getElementById(id) as (HTMLElement & { value: string }) | null;
  if (sel && sel.value !== value) sel.value = value;
}

function handle(msg: ToWebview): void {
  switch (msg.type) {
    case 'state':
      applyState(msg.state);
      return;
    case 'snapshot':
      if (!page.state) return;
      page.state.latest = msg.snapshot;
      page.state.now = Math.max(page.state.now, msg.snapshot.timestamp);
      page.clockOffsetMs = page.state.now - Date.now();
      page.state.activeTasks = msg.activeTasks;
      appendSnapshot(page.state.series, msg.snapshot);
      renderStatus();
      renderNow();
      drawLiveCharts();
      renderActive(msg.activeTasks);
      tickCluster();
      return;
    case 'series':
      if (!page.state) return;
      page.state.series = msg.series;
      page.range = msg.series.range;
      renderNow();
      drawLiveCharts();
      return;
    case 'analysis':
      if (!page.state) return;
      page.state.analysis = msg.analysis;
      page.state.totalTaskCount = msg.totalTaskCount;
      renderEmpty();
      renderAnalysis(msg.analysis);
      return;
    case 'historyPage':
      if (!page.state || page.state.analysis.windowHours !== msg.windowHours) return;
      page.state.analysis = { ...page.state.analysis, ...msg.page };
      renderHistory(page.state.analysis);
      return;
    case 'activeTasks':
      if (!page.state) return;
      page.state.activeTasks = msg.activeTasks;
      renderActive(msg.activeTasks);
      renderEmpty();
      return;
    case 'gpuAvailability':
      if (!page.state) return;
      page.state.gpuAvailability = msg.availability;
      renderStatus();
      renderGpuAvailability(msg.availability);
      return;
    case 'taskDetail':
      renderDetail(msg.taskId, msg.startTime, msg.detail);
      return;
    case 'comparison':
      renderComparison(msg.tasks);
      return;
    case 'notice':
      showNotice(msg.level, msg.text);
      return;
    case 'cluster':
      renderCluster(msg.cluster);
      return;
    case 'clusterTasks':
      renderClusterTasks(msg.instance, msg.recent, msg.error);
      return;
  }
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const parsed = parseToWebview(event.data);
  if (!parsed.ok) {
    send({ type: 'webviewError', message: `rejected a message from the host: ${parsed.error}`.slice(0, 2000) });
    return;
  }
  try {
    handle(parsed.msg);
  } catch (err) {
    send({ type: 'webviewError', message: `handling "${parsed.msg.type}" failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 2000) });
  }
});

// Theme changes: VS Code swaps the body's class and the CSS variables; re-read them into the charts.
new MutationObserver(() => {
  page.theme = readTheme();
  for (const c of Object.values(charts)) c.applyTheme(page.theme);
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('main'));
root.classList.remove('loading');
buildSkeleton(root);
el.empty.before(clusterSectionElement());
Object.assign(charts, makeCharts());
for (const c of Object.values(charts)) {
  c.canvas.parentElement?.appendChild(c.emptyNote);
  c.canvas.closest('figure')?.appendChild(c.legend);
}
send({ type: 'ready', version: PROTOCOL_VERSION, range: page.range, windowHours: page.windowHours });
