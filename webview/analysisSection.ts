// The analysis sections: headline figures, breakdowns by model type and resolution, bottlenecks
// with their evidence, recommendations and trends; then the history table of the same window.
import type { PerformanceAnalysis } from '../src/shared/metrics';
import type { AnalysisView } from '../src/shared/protocol';
import type { LineChart } from './charts';
import { h, replace, setText } from './dom';
import { renderHistory } from './historySection';
import { charts } from './liveCharts';
import { el, severityBadge, tile } from './layout';
import { page } from './page';
import { decimate, efficiencyExplanation, formatCount, formatEvidence, formatFindingEvidence, formatRatio, formatSeconds, formatWindow } from './viewModel';

export function renderAnalysis(view: AnalysisView): void {
  const a = view.analysis;
  setText(el.analysisTitle, `Analysis · last ${formatWindow(view.windowHours)}`);
  const c = a.statusCounts;
  replace(el.kpis,
    tile('Success rate', formatRatio(a.successRate), 'succeeded ÷ finished (cancelled excluded)', 'kpi-success'),
    tile('Average time', formatSeconds(a.averageGenerationTimeSeconds), 'successful tasks', 'kpi-average'),
    tile('p95 time', formatSeconds(a.p95GenerationTimeSeconds), `median ${formatSeconds(a.p50GenerationTimeSeconds)}`, 'kpi-p95'),
    tile('Efficiency', formatRatio(a.resourceEfficiency), 'see below', 'kpi-efficiency'),
    tile('Tasks', String(a.taskCount), `${c.succeeded} succeeded · ${c.failed} failed · ${c.cancelled} cancelled · ${c.interrupted} interrupted`, 'kpi-tasks'));
  setText(el.efficiencyLine, `Efficiency: ${efficiencyExplanation(a, page.state?.thresholds.efficiencyBaselineSeconds ?? 300)}`);
  replace(el.breakdowns, breakdownTable('By model type', a.byModelType, false), breakdownTable('By resolution', a.byResolution, true));
  renderFindingCards(a);
  renderFindings(a);
  renderTrends(a);
  renderHistory(view);
}

function breakdownTable(title: string, entries: PerformanceAnalysis['byModelType'], withTarget: boolean): HTMLElement {
  if (entries.length === 0) return h('div', null, h('h3', null, title), h('p', { class: 'muted' }, 'No finished task in this window.'));
  const head = ['Name', 'Tasks', 'Success', 'Average', 'Max', ...(withTarget ? ['Target'] : [])];
  return h('div', null, h('h3', null, title), h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
    h('thead', null, h('tr', null, ...head.map((x, i) => h('th', { attrs: { scope: 'col' }, class: i > 0 ? 'num' : '' }, x)))),
    h('tbody', null, ...entries.map((e) => h('tr', null,
      h('th', { attrs: { scope: 'row' }, class: 'text' }, e.key),
      h('td', { class: 'num' }, String(e.taskCount)),
      h('td', { class: 'num' }, formatRatio(e.successRate)),
      h('td', { class: 'num' }, formatSeconds(e.averageGenerationTimeSeconds)),
      h('td', { class: 'num' }, formatSeconds(e.maxGenerationTimeSeconds)),
      withTarget ? h('td', { class: 'num' }, formatSeconds(e.targetSeconds)) : null)))))); 
}

/** The diagnoses, most worth fixing first: summary, evidence, the next step, what ends it, the runs. All text nodes. */
function renderFindingCards(a: PerformanceAnalysis): void {
  if (a.findings.length === 0) {
    replace(el.findings, h('p', { class: 'muted' }, a.taskCount === 0 ? 'Nothing to diagnose yet: no finished task in this window.' : 'No finding in this window: nothing crossed its threshold.'));
    return;
  }
  replace(el.findings, ...a.findings.map((f) => h('div', { class: `finding sev-border-${f.severity}`, attrs: { 'data-kind': f.kind } },
    h('div', null, severityBadge(f.severity), ' ', h('code', null, f.kind), ' ', h('strong', null, f.summary)),
    h('div', null, `Next step: ${f.nextStep}`),
    h('div', { class: 'muted small' }, `Evidence: ${f.evidence.map(formatFindingEvidence).join(' · ')} · ${f.confidence} confidence`),
    h('div', { class: 'muted small' }, `Goes away when ${f.resolvedWhen} · runs: ${f.taskIds.join(', ')}${f.taskCount > f.taskIds.length ? ` and ${f.taskCount - f.taskIds.length} more` : ''}`))));
}

function renderFindings(a: PerformanceAnalysis): void {
  const findings = a.bottleneckAnalysis.findings;
  if (findings.length === 0) {
    replace(el.bottlenecks, h('p', { class: 'muted' }, a.taskCount === 0 ? 'Nothing to judge yet: no finished task in this window.' : 'No bottleneck found in this window.'));
  } else {
    replace(el.bottlenecks, ...findings.map((f) => h('div', { class: `finding sev-border-${f.severity}` },
      h('div', null, severityBadge(f.severity), ' ', h('strong', null, f.summary)),
      h('div', { class: 'muted small' }, `Evidence: ${formatEvidence(f.evidence)} · ${f.confidence} confidence`))));
  }
  if (a.recommendations.length === 0) {
    replace(el.recommendations, h('li', { class: 'muted none' }, 'No recommendation for this window.'));
  } else {
    replace(el.recommendations, ...a.recommendations.map((r) => h('li', null,
      h('div', null, severityBadge(r.severity), ' ', r.text),
      h('div', { class: 'muted small' }, `Why: ${formatEvidence(r.evidence)} · ${r.confidence} confidence`))));
  }
}

function renderTrends(a: PerformanceAnalysis): void {
  const t = a.performanceTrends;
  const xs = t.bucketStartTimes;
  const xMin = a.windowStart;
  const xMax = a.generatedAt;
  const put = (chart: LineChart, label: string, ys: (number | null)[], colour: number, map?: (y: number) => number) => {
    chart.setSeries([{ label, colour }]);
    chart.setXRange(xMin, xMax);
    chart.setData(0, decimate(xs, ys, xMin, xMax, 1000, map));
    chart.update();
  };
  const th = page.state?.thresholds;
  charts.trendSuccess.setThresholds(th ? [{ value: th.minSuccessRate * 100, label: `${formatRatio(th.minSuccessRate, 0)} target` }] : []);
  charts.trendCpu.setThresholds(th ? [{ value: th.cpuPercent, label: `${th.cpuPercent}% threshold` }] : []);
  put(charts.trendTime, 'Mean generation time', t.generationTimeSeconds, 0);
  put(charts.trendSuccess, 'Success rate', t.successRate, 2, (y) => y * 100);
  put(charts.trendVram, 'Mean peak VRAM', t.peakVramUsageMb, 3);
  put(charts.trendCpu, 'Mean CPU', t.averageCpuUsagePercent, 1);
  setText(el.trendNote, xs.length === 0
    ? 'Trends appear once tasks have finished in this window.'
    : `${formatCount(xs.length, 'point')}, each the mean of a bucket of about ${Math.max(1, Math.round(a.taskCount / Math.max(1, xs.length)))} consecutive tasks.`);
}
