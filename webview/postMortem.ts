// A failed run's post-mortem under its detail: the last minute of its kept timeline (VRAM of the
// device and of the run's own processes, GPU utilisation, CPU) with the phases running then, and
// the facts a person checks first (memory at the end against the GPU's, the phase it died in).
import type { PerformanceMetrics } from '../src/shared/metrics';
import { h, replace } from './dom';
import { el, fact } from './layout';
import { charts } from './liveCharts';
import { isFailed, lastMinute, postMortemFacts } from './runViewModel';
import { phaseBands, type Point } from './viewModel';

const points = (xs: readonly number[], ys: readonly (number | null)[], scale = 1): Point[] => xs.map((x, i) => ({ x, y: ys[i] === null || ys[i] === undefined ? null : (ys[i] as number) * scale }));

export function renderPostMortem(t: PerformanceMetrics | null): void {
  const { xs, columns } = t && isFailed(t) ? lastMinute(t) : { xs: [], columns: null };
  const show = t !== null && columns !== null && xs.length > 0;
  el.postMortem.classList.toggle('hidden', !show);
  if (!show || !t || !columns) return;
  replace(el.postMortemInfo,
    h('h4', { id: 'postmortem-title' }, 'Post-mortem: its last minute'),
    h('dl', { class: 'facts wide', attrs: { 'aria-labelledby': 'postmortem-title' } }, ...postMortemFacts(t).map((f) => fact(f.label, f.value))));
  const xMin = xs[0] as number;
  const xMax = Math.max(xMin + 1000, xs[xs.length - 1] as number);
  const c = charts.postMortem;
  c.setSeries([
    { label: 'GPU memory (device)', colour: 3, axis: 'y1' },
    { label: "GPU memory (the run's own)", colour: 2, axis: 'y1', dashed: true },
    { label: 'GPU utilisation', colour: 0 },
    { label: 'CPU (% of one core)', colour: 1, dashed: true },
  ]);
  c.setXRange(xMin, xMax);
  c.setData(0, points(xs, columns.deviceVramMb));
  c.setData(1, points(xs, columns.ownVramMb));
  c.setData(2, points(xs, columns.gpuUtilizationPercent));
  c.setData(3, points(xs, columns.cpuCores, 100));
  c.setPhases(phaseBands(t.phases, xMin, xMax));
  c.update();
}
