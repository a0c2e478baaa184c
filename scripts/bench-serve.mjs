// What one Prometheus scrape of `model-perf serve` costs on a node with 8 GPUs (target < 1 ms):
//   render   renderExposition alone, uncached (what a scrape costs right after a new sample)
//   serve    the HTTP server's own time per request, render included (request in -> response
//            flushed), over a keep-alive connection from a client in the same process
//   round    the client's round trip (adds the client's side of the socket)
// Each figure is the median and p95 over many scrapes after a warm-up. The input is a busy node:
// 8 GPUs, a history of 10 000 tasks folded into the bounded counters, 10 running tasks.
// Usage: node scripts/bench-serve.mjs [--scrapes N] [--json]
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleEngine } from './benchEngine.mjs';

const args = process.argv.slice(2);
const scrapesArg = args.indexOf('--scrapes');
const SCRAPES = scrapesArg >= 0 ? Number(args[scrapesArg + 1]) : 3000;
const WARMUP = 300;

async function load() {
  const dir = await mkdtemp(join(tmpdir(), 'model-perf-bench-serve-'));
  // serveCommand pulls in the CLI's engine assembly; only createMetricsServer is used here.
  const out = await bundleEngine(dir, 'serve', [
    "export { renderExposition, taskTotals } from './src/core/metrics/openMetrics';",
    "export { createMetricsServer } from './src/cli/serveCommand';",
    "export { gpuReading } from './src/shared/snapshot';",
  ], { requireShim: true });
  const mod = await import(pathToFileURL(out).href);
  return { mod, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

function stats(samplesNs) {
  const ms = samplesNs.map((n) => Number(n) / 1e6).sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))];
  return { medianMs: at(0.5), p95Ms: at(0.95), n: ms.length };
}

const { mod, cleanup } = await load();
const { renderExposition, taskTotals, createMetricsServer, gpuReading } = mod;

const now = Date.now();
const gpus = Array.from({ length: 8 }, (_, i) =>
  gpuReading({ index: i, uuid: `GPU-8c1e3f20-6a4d-4b8e-9c2f-00000000000${i}`, name: 'NVIDIA H100 80GB HBM3', utilizationPercent: 90 + i, memoryUtilizationPercent: 40, vramUsedMb: 70_000 + i, vramTotalMb: 81_559, temperatureCelsius: 60 + i, powerDrawWatts: 650.25, powerLimitWatts: 700, smClockMhz: 1980, performanceState: 'P0' }),
);
const snapshot = { timestamp: now, cpuUsagePercent: 35, ramUsageMb: 500_000, ramAvailableMb: 1_500_000, ramTotalMb: 2_000_000, diskUsagePercent: 40, gpuUsagePercent: 93, vramUsageMb: 560_000, vramAvailableMb: 92_000, vramTotalMb: 652_472, vramUsagePercent: 85, temperatureCelsius: 67, gpus };
const statuses = ['succeeded', 'succeeded', 'succeeded', 'failed', 'cancelled', 'interrupted'];
const history = Array.from({ length: 10_000 }, (_, i) => ({ status: statuses[i % statuses.length], modelType: `model-${i % 40}`, resolutionClass: ['720p', '1080p', '2160p'][i % 3], generationTimeSeconds: (i % 600) + 0.5 }));
const input = {
  snapshot,
  gpuAvailability: { provider: 'nvidia', available: true, reason: null },
  totals: taskTotals(history),
  running: Array.from({ length: 10 }, (_, i) => ({ taskId: `gen-${i}`, modelType: `model-${i}`, startTime: now - i * 1000, stepsCompleted: i, stepsTotal: 30 })),
  version: '0.1.0',
};

// render
const renderNs = [];
let bytes = 0;
for (let i = 0; i < WARMUP + SCRAPES; i++) {
  const t0 = process.hrtime.bigint();
  const text = renderExposition(input, 'openmetrics');
  const t1 = process.hrtime.bigint();
  bytes = text.length;
  if (i >= WARMUP) renderNs.push(t1 - t0);
}

// serve: uncached render on every request (the worst case), timed inside the server
const serveNs = [];
const server = createMetricsServer({ scrape: (format) => renderExposition(input, format), token: null });
server.prependListener('request', (_req, res) => {
  const t0 = process.hrtime.bigint();
  res.on('finish', () => serveNs.push(process.hrtime.bigint() - t0));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const scrape = () =>
  new Promise((resolveScrape, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent, headers: { Accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' } }, (res) => {
      res.on('data', () => {});
      res.on('end', resolveScrape);
    });
    req.on('error', reject);
    req.end();
  });
const roundNs = [];
for (let i = 0; i < WARMUP + SCRAPES; i++) {
  const t0 = process.hrtime.bigint();
  await scrape();
  if (i >= WARMUP) roundNs.push(process.hrtime.bigint() - t0);
}
agent.destroy();
server.closeAllConnections();
await new Promise((r) => server.close(r));
await cleanup();

const results = { gpus: 8, exposition_bytes: bytes, scrapes: SCRAPES, render: stats(renderNs), serve: stats(serveNs.slice(WARMUP)), round_trip: stats(roundNs) };
if (args.includes('--json')) {
  console.log(JSON.stringify(results)); // one line: npm run bench reads the last line
} else {
  const f = (s) => `median ${s.medianMs.toFixed(3)} ms, p95 ${s.p95Ms.toFixed(3)} ms`;
  console.log(`scrape cost, 8 GPUs, ${bytes} bytes of OpenMetrics, ${SCRAPES} scrapes after ${WARMUP} warm-up:`);
  console.log(`  render (uncached)         ${f(results.render)}`);
  console.log(`  serve (server side)       ${f(results.serve)}   target < 1 ms`);
  console.log(`  round trip (client side)  ${f(results.round_trip)}`);
}
