// `model-perf serve`: this node's figures over HTTP for Prometheus (GET /metrics). It samples
// through the normal engine assembly, following a VS Code window that already samples the machine
// (no second nvidia-smi), and answers every scrape from memory (see NodeExporter).
//
// Loopback only unless told otherwise: another address needs --allow-remote and a bearer token
// (--token-file, else $MODEL_PERF_TOKEN), compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { version } from '../../package.json';
import { DEFAULT_CONFIG } from '../core/engine/config';
import { defaultStorageDir, JsonlHistoryStore } from '../core/history/historyStore';
import { isProcessAlive } from '../core/util/process';
import { createMachineMonitor } from '../core/machine';
import { NodeExporter } from '../core/metrics/nodeExporter';
import { contentType, negotiateFormat } from '../core/metrics/openMetrics';
import { readRunningTasks } from '../core/metrics/runningMarkers';
import { systemClock } from '../core/ports';
import { readBoundedText } from '../core/util/privateFiles';
import { MAX_CLUSTER_NAME, MAX_RECENT_TASKS, type RecentTasks } from '../shared/clusterMessages';
import type { PerformanceMetrics } from '../shared/metrics';
import { safeText } from '../shared/text';
import { DEFAULT_SERVE_PORT, explicitGpuChoice, flagBoolean, flagNumber, flagString, gpuBackendFlag, usageLine, type ParsedCommand } from './args';
import type { CliIo } from './io';
import { cliLogger, errorMessage } from './logger';

const DEFAULT_BIND = '127.0.0.1';
/** A token file holds one line; anything larger is not one. */
const MAX_TOKEN_FILE_BYTES = 4096;
/** Shorter tokens are guessable; refuse them rather than serve behind one. */
const MIN_TOKEN_CHARS = 16;

/** True for an address only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(address: string): boolean {
  const a = address.trim().toLowerCase();
  if (a === 'localhost' || a === '::1' || a === '[::1]') return true;
  if (isIP(a) === 4) return a.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return mapped !== null && (mapped[1] as string).startsWith('127.');
}

/**
 * Whether an Authorization header carries `token`. Both sides are hashed first so the comparison
 * takes the same time whatever the header's length or content.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1] ?? '';
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  const equal = timingSafeEqual(digest(given), digest(token));
  return equal && given !== '';
}

/** A token as read from a file or the environment: one line, no blanks inside, long enough. Throws with a message a user can act on. */
export function checkToken(raw: string, from: string, minChars = MIN_TOKEN_CHARS): string {
  const token = raw.trim();
  if (token === '') throw new Error(`${from} is empty`);
  if (/\s/.test(token)) throw new Error(`${from} must hold one token on one line (it has blanks inside)`);
  if (token.length < minChars) throw new Error(`${from} holds a token of ${token.length} characters; use at least ${minChars} (e.g. openssl rand -hex 32)`);
  return token;
}

/** The token from --token-file, else `$envName`, else null (one we serve behind must have `minChars`). */
export async function loadToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv, cwd: string, envName: string, minChars = MIN_TOKEN_CHARS): Promise<string | null> {
  if (tokenFile !== undefined) {
    const path = resolvePath(cwd, tokenFile);
    let text: string;
    try {
      text = await readBoundedText(path, MAX_TOKEN_FILE_BYTES);
    } catch (err) {
      throw new Error(`cannot read the token file ${path}: ${errorMessage(err)}`);
    }
    return checkToken(text, `the token file ${path}`, minChars);
  }
  const fromEnv = env[envName];
  return fromEnv === undefined || fromEnv === '' ? null : checkToken(fromEnv, `$${envName}`, minChars);
}

export interface MetricsServerOptions {
  scrape: (format: 'prometheus' | 'openmetrics') => string;
  token: string | null;
  /** GET /tasks/recent?limit=N: the node's last finished tasks (absent: 404). */
  recentTasks?: (limit: number) => RecentTasks;
}

/** Tasks /tasks/recent sends without `?limit=`. */
const DEFAULT_RECENT_TASKS = 20;
/** How far back /tasks/recent looks. */
const RECENT_TASKS_HOURS = 24 * 7;

/** The last `limit` finished tasks of `history` (oldest first), newest first, names cleaned and bounded. */
export function recentTasks(history: readonly PerformanceMetrics[], limit: number, node: string, version: string): RecentTasks {
  const clean = (s: string) => safeText(s, MAX_CLUSTER_NAME);
  return {
    node: clean(node),
    version: safeText(version, 64),
    tasks: history.filter((t) => t.status !== 'running').slice(-limit).reverse().map((t) => ({
      taskId: clean(t.taskId), modelType: clean(t.modelType), resolution: clean(t.resolution), status: t.status as Exclude<PerformanceMetrics['status'], 'running'>,
      startTime: t.startTime, endTime: t.endTime, generationTimeSeconds: t.generationTimeSeconds, peakVramUsageMb: t.peakVramUsageMb,
      errorCategory: t.errorCategory === null ? null : clean(t.errorCategory),
    })),
  };
}

/** `?limit=N` of /tasks/recent: a whole number from 1 to MAX_RECENT_TASKS, else null. */
function recentLimit(query: string): number | null {
  const raw = new URLSearchParams(query).get('limit');
  if (raw === null) return DEFAULT_RECENT_TASKS;
  return /^\d{1,3}$/.test(raw) && Number(raw) >= 1 && Number(raw) <= MAX_RECENT_TASKS ? Number(raw) : null;
}

/** The HTTP face: GET/HEAD /metrics and GET /tasks/recent, nothing else. Exported for tests. */
export function createMetricsServer(options: MetricsServerOptions): Server {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const [path, query = ''] = (req.url ?? '').split('?', 2);
    if (options.token !== null && !bearerMatches(req.headers.authorization, options.token)) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'WWW-Authenticate': 'Bearer realm="model-perf"' });
      res.end('Unauthorized: send "Authorization: Bearer TOKEN".\n');
      return;
    }
    if (path === '/tasks/recent' && options.recentTasks && req.method === 'GET') {
      const limit = recentLimit(query);
      if (limit === null) {
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`Bad request: limit is a whole number from 1 to ${MAX_RECENT_TASKS}.\n`);
        return;
      }
      const body = JSON.stringify(options.recentTasks(limit));
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
      res.end(body);
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Not found: the metrics are at /metrics.\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' });
      res.end('Method not allowed: use GET.\n');
      return;
    }
    const format = negotiateFormat(req.headers.accept);
    const body = options.scrape(format);
    res.writeHead(200, { 'Content-Type': contentType(format), 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // A scraper sends a small request at once; a client that trickles one must not hold a socket.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.maxHeadersCount = 64;
  return server;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function urlHost(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

export async function serveCommand(parsed: ParsedCommand, io: CliIo): Promise<number> {
  const bind = flagString(parsed, 'bind') ?? DEFAULT_BIND;
  const port = flagNumber(parsed, 'port') ?? DEFAULT_SERVE_PORT;
  const remote = !isLoopback(bind);
  if (remote && !flagBoolean(parsed, 'allow-remote')) {
    io.stderr.write(`model-perf serve: ${bind} is reachable from other machines: add --allow-remote (and a token) to serve there\n${usageLine('serve')}\n`);
    return 2;
  }
  let token: string | null;
  try {
    token = await loadToken(flagString(parsed, 'token-file'), io.env, io.cwd, 'MODEL_PERF_TOKEN');
  } catch (err) {
    io.stderr.write(`model-perf serve: ${errorMessage(err)}\n`);
    return 2;
  }
  if (remote && token === null) {
    io.stderr.write('model-perf serve: serving beyond loopback needs a token: --token-file F or $MODEL_PERF_TOKEN (scrapers then send "Authorization: Bearer TOKEN")\n');
    return 2;
  }

  const storageDir = defaultStorageDir(io.env);
  const explicitGpu = explicitGpuChoice(parsed);
  const monitor = await createMachineMonitor({
    intervalMs: Math.round((flagNumber(parsed, 'interval') ?? 1) * 1000),
    enableGpu: !flagBoolean(parsed, 'no-gpu'),
    nvidiaSmiPath: flagString(parsed, 'nvidia-smi') ?? null,
    ...gpuBackendFlag(parsed),
    diskPath: io.cwd,
    env: io.env,
    logger: cliLogger(io, 'serve'),
    // Every recorded task counts, not only the extension's in-memory share.
    config: { maxHistorySize: 1_000_000 },
    // Shares the machine's sampler like a window: reads the sampling window's figures, or samples
    // and publishes for the others (a `model-perf run` beside it starts no nvidia-smi either; the
    // per-process query runs only while someone's task runs).
    ...(explicitGpu ? { gpuProcessIntervalMs: 0 } : { shareSamplerIn: storageDir }),
  });
  const host = hostname();
  const exporter = new NodeExporter({
    monitor,
    version,
    clock: systemClock,
    listRunning: () => readRunningTasks(storageDir, host, isProcessAlive),
    onLog: (m) => io.stderr.write(`model-perf serve: warning: ${m}\n`),
  });
  const server = createMetricsServer({
    scrape: (format) => exporter.scrape(format),
    token,
    recentTasks: (limit) => recentTasks(monitor.getHistory(RECENT_TASKS_HOURS), limit, host, version),
  });
  // Tasks other processes record appear as they finish (the store tells of them), and the history
  // is reloaded at least every minute in case the folder cannot be watched.
  const watch = new JsonlHistoryStore(storageDir, {
    retentionDays: DEFAULT_CONFIG.retentionDays,
    retentionMaxTasks: DEFAULT_CONFIG.retentionMaxTasks,
    onWarning: (w) => io.stderr.write(`model-perf serve: warning: ${w.file}${w.line !== null ? `:${w.line}` : ''}: ${w.reason}\n`),
  }).onDidChange((change) => {
    if (change.kind === 'appended') monitor.addRecordedTasks(change.tasks);
    else void monitor.reloadHistory();
  });
  const reload = setInterval(() => void monitor.reloadHistory(), 60_000);
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const unsubscribe = io.onStopSignal(() => finish());
  try {
    await monitor.ready();
    await monitor.startMonitoring();
    await exporter.refreshRunningNow();
    let actualPort: number;
    try {
      actualPort = await listen(server, port, bind);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EADDRINUSE' ? `port ${port} is in use (choose another with --port)` : code === 'EADDRNOTAVAIL' ? `${bind} is not an address of this machine` : code === 'EACCES' ? `no permission to listen on port ${port} (ports below 1024 need privileges)` : errorMessage(err);
      io.stderr.write(`model-perf serve: cannot listen on ${urlHost(bind)}:${port}: ${why}\n`);
      return 1;
    }
    io.stdout.write(`model-perf serve: serving http://${urlHost(bind)}:${actualPort}/metrics${token ? ' (bearer token required)' : ''}\n`);
    await finished;
    return 0;
  } finally {
    unsubscribe();
    clearInterval(reload);
    watch.dispose();
    exporter.dispose();
    if (server.listening) await closeServer(server);
    await monitor.dispose();
  }
}
