// Control characters, escape sequences and huge strings given to the CLI never reach the terminal
// or the history raw: an unsafe --task-id is refused (exit 2, nothing recorded), labels are cleaned
// and cut, and what `analyze` prints from the history is clean.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/cli';
import { analysisText, runSummary } from '../../../src/cli/format';
import type { PerformanceAnalysis, PerformanceMetrics } from '../../../src/shared/metrics';
import { historyRecords } from '../helpers/historyFiles';
import { testIo, type TestIo } from '../helpers/cliIo';

const ESC = '\u001b';
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
let home = '';

function io(): TestIo {
  return testIo({ env: { MODEL_PERF_HOME: home } });
}

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'model-perf-text-'));
});
after(async () => {
  if (home) await rm(home, { recursive: true, force: true });
});

test('run --task-id of 130 000 characters or with an escape sequence: refused with the reason, nothing recorded', async () => {
  for (const [id, reason] of [
    ['x'.repeat(130_000), /--task-id: a task id is at most 200 characters \(got 130000\)/],
    [`job${ESC}[2J${ESC}]0;owned\u0007`, /--task-id: a task id must not contain control characters or escape sequences/],
  ] as const) {
    const t = io();
    assert.equal(await runCli(['run', '--no-gpu', '--task-id', id, '--', process.execPath, '-e', ''], t), 2);
    assert.match(t.err.text, reason);
    assert.ok(t.err.text.length < 1000, 'the id is not echoed back');
    assert.doesNotMatch(t.err.text, RAW_CONTROL);
  }
  assert.deepEqual(await historyRecords(home), []);
});

test('run with hostile --model-type and --resolution: stored and printed cleaned and cut; analyze prints them clean', async () => {
  const t = io();
  const modelType = `${ESC}[2J${ESC}[Hsdxl${ESC}]0;pwned\u0007\u0000${'m'.repeat(5000)}`;
  const code = await runCli(['run', '--no-gpu', '--task-id', 'clean-me', '--model-type', modelType, '--resolution', `1024\r\n${ESC}[31mx`, '--', process.execPath, '-e', 'process.exit(3)'], t);
  assert.equal(code, 3);
  assert.doesNotMatch(t.err.text, RAW_CONTROL);
  const [task] = await historyRecords(home);
  assert.ok(task);
  assert.ok(task.modelType.startsWith('sdxl\uFFFDmmm'), task.modelType.slice(0, 20));
  assert.equal(task.modelType.length, 100);
  assert.equal(task.resolution, '1024  x');
  const a = io();
  assert.equal(await runCli(['analyze'], a), 0);
  assert.match(a.out.text, /sdxl\uFFFDm+\u2026/);
  assert.doesNotMatch(a.out.text, RAW_CONTROL);
});

test('the summary and the report neutralise what an old or hostile history holds', () => {
  const task = { taskId: `${ESC}[2Jid${'i'.repeat(300)}`, success: false, status: 'failed', errorCategory: `oom${ESC}]0;t\u0007`, generationTimeSeconds: 1, peakVramUsageMb: null, peakRamUsageMb: null, averageCpuUsagePercent: null, averageGpuUtilizationPercent: null } as unknown as PerformanceMetrics;
  const summary = runSummary(task, 'exit code 1', null);
  assert.doesNotMatch(summary, RAW_CONTROL);
  assert.match(summary, /task "idi+\u2026" failed \(oom, exit code 1\)/);
  assert.ok(summary.length < 600);
  const entry = { key: `evil${ESC}[2J\u0007`, taskCount: 1, successRate: 0, averageGenerationTimeSeconds: 1, maxGenerationTimeSeconds: 1, targetSeconds: null };
  const analysis = {
    timeWindowHours: 24,
    taskCount: 1,
    statusCounts: { succeeded: 0, failed: 1, interrupted: 0, cancelled: 0 },
    successRate: 0,
    averageGenerationTimeSeconds: null,
    p50GenerationTimeSeconds: null,
    p95GenerationTimeSeconds: null,
    resourceEfficiency: null,
    failuresByErrorCategory: { [`x${ESC}[31m`]: 1 },
    bottleneckAnalysis: { findings: [] },
    recommendations: [{ severity: 'info', text: `Generation time for evil${ESC}[2J exceeds target` }],
    byModelType: [entry],
    byResolution: [],
    findings: [{
      kind: 'gpuIdle', severity: 'warning', confidence: 'low', summary: `evil${ESC}[2J summary`, evidence: [{ label: `label${ESC}[31m`, value: 1, unit: `u${ESC}[1m` }],
      taskIds: [`${ESC}[2Jid`], taskCount: 3, nextStep: `step${ESC}]0;t\u0007`, resolvedWhen: `when\u0007`, expectedGainSeconds: 1,
    }],
  } as unknown as PerformanceAnalysis;
  const report = analysisText(analysis);
  assert.match(report, /runs: .*id and 2 more\n/);
  assert.doesNotMatch(report, RAW_CONTROL);
  assert.match(report, /Failures {10}x 1/);
  assert.match(report, /\nevil\uFFFD/);
});

test('run under umask 000 creates the history folder 0700; an open one is tightened with a warning', { skip: process.platform === 'win32' ? 'file modes are POSIX' : false }, async () => {
  const previous = process.umask(0);
  const saved = home;
  try {
    home = join(saved, 'fresh', 'model-perf');
    const t = io();
    assert.equal(await runCli(['run', '--no-gpu', '--', process.execPath, '-e', ''], t), 0, t.err.text);
    assert.equal(statSync(home).mode & 0o777, 0o700);
    home = join(saved, 'open');
    mkdirSync(home, { mode: 0o777 });
    const u = io();
    assert.equal(await runCli(['run', '--no-gpu', '--', process.execPath, '-e', ''], u), 0, u.err.text);
    assert.equal(statSync(home).mode & 0o777, 0o700);
    assert.match(u.err.text, /model-perf run: warning: The folder .*open was open to other users \(mode 777\); now 700/);
  } finally {
    home = saved;
    process.umask(previous);
  }
});
