// The receiving end of the Python helper (media/python/model_perf.py): a Unix socket (or loopback
// TCP on Windows) speaking newline-delimited JSON. Every message must carry this session's random
// token (compared in constant time) and match the schema; lines are limited in length and rate
// per connection. Anything refused is logged once per kind, never thrown. Accepted messages go to
// the task whose process tree holds the sender's pid (or the only running task, if it had started
// when the message arrived).
//
// Starvation: a connection must authenticate (send one line with the token) within a short
// deadline or it is dropped; a line that is not a JSON object closes the connection; connections
// still waiting to authenticate are capped on their own (the oldest is dropped to admit a new one),
// so idle or hostile clients can never take the room of the real helper, which authenticates at once.
import { createHash, timingSafeEqual } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PerformanceMonitor } from '../engine/monitor';
import type { MonitorLogger } from '../engine/monitorTypes';
import { PHASE_NAME } from '../engine/taskArguments';
import { isHelperToken, newHelperToken, prepareSocketPath, removeOwnSocket, socketInode } from './helperEndpoint';
import { ancestorAmong, type ProcRelations } from './procRelations';
import type { TaskMetricsUpdate } from '../../shared/metrics';
import { hasControlCharacters, MAX_LABEL_CHARS } from '../../shared/text';

export const CHANNEL_ENV = 'MODEL_PERF_CHANNEL';
export const TOKEN_ENV = 'MODEL_PERF_TOKEN';
const HELPER_PROTOCOL_VERSION = 1;

export type HelperMessage =
  | { type: 'hello'; pid: number; script: string | null }
  | { type: 'phase'; pid: number; name: string; event: 'start' | 'end'; atMs: number | null }
  | { type: 'metrics'; pid: number; changes: TaskMetricsUpdate }
  /** The framework allocator's peak in the sender's process (MiB), e.g. torch.cuda.max_memory_reserved(). */
  | { type: 'memory'; pid: number; framework: 'torch'; peakReservedMb: number };

/** Above any GPU made or planned (MiB): a larger figure is a bug or a lie, refused. */
const MAX_HELPER_VRAM_MB = 16 * 1024 * 1024;

export type RejectKind = 'bad_token' | 'bad_json' | 'schema' | 'oversized' | 'rate_limited' | 'too_many_connections' | 'too_many_unauthenticated' | 'auth_timeout';

export interface HelperChannelOptions {
  log: MonitorLogger;
  /** Called for every accepted message. */
  onMessage(message: HelperMessage): void;
  /** Longest line accepted (bytes), default 64 KB. */
  maxLineBytes?: number;
  /** Messages per second allowed per connection (a burst of twice this is allowed), default 50. */
  maxMessagesPerSecond?: number;
  /** Authenticated connections allowed at once, default 64; one more is refused and closed. */
  maxConnections?: number;
  /**
   * Connections allowed to wait for their first line at once, default 16, counted apart from the
   * authenticated ones; when full, the oldest waiting one is dropped to admit the new one.
   */
  maxUnauthenticated?: number;
  /** How long a new connection has to send a line with the token (default 2000 ms). */
  authTimeoutMs?: number;
  /** Use loopback TCP instead of a Unix socket (always on Windows). */
  tcp?: boolean;
  now?: () => number;
  /**
   * A token kept across sessions (see helperEndpoint.ts), so terminals restored with their saved
   * environment still authenticate; default a new random one. Must be 64 hex digits.
   */
  token?: string;
  /**
   * A stable Unix socket path (see stableSocketPath); when it cannot be used safely the channel
   * falls back to a fresh private folder and logs why. Default: a fresh private folder.
   */
  socketPath?: string;
  /** Loopback TCP: the port to try first (the previous session's), else any free one. */
  preferredPort?: number;
}

// A null prototype: a message key such as "__proto__" or "constructor" finds nothing here.
const METRIC_KEYS: Record<string, keyof TaskMetricsUpdate> = Object.assign(Object.create(null) as Record<string, keyof TaskMetricsUpdate>, {
  model_load_time_seconds: 'modelLoadTimeSeconds',
  optimizations: 'optimizationsApplied',
  quantization: 'quantizationUsed',
  offload: 'offloadUsed',
  steps: 'steps',
  steps_completed: 'stepsCompleted',
  model_type: 'modelType',
  resolution: 'resolution',
});

/** A field of a parsed message: its own property only, never one inherited from Object.prototype. */
const own = (o: Record<string, unknown>, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

const isShortText = (v: unknown, max: number = MAX_LABEL_CHARS): v is string => typeof v === 'string' && v.length > 0 && v.length <= max && !hasControlCharacters(v);

/** The message's content, or a reason it does not match the schema. The token is checked before. */
export function validateMessage(value: Record<string, unknown>): HelperMessage | string {
  const v = own(value, 'v');
  const pid = own(value, 'pid');
  const type = own(value, 'type');
  const rest: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value)) if (key !== 'token' && key !== 'v' && key !== 'pid' && key !== 'type') rest[key] = value[key];
  if (v !== HELPER_PROTOCOL_VERSION) return `"v" must be ${HELPER_PROTOCOL_VERSION}`;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return '"pid" must be a process id';
  const extra = (allowed: string[]) => Object.keys(rest).find((k) => !allowed.includes(k));
  if (type === 'hello') {
    const bad = extra(['script']);
    if (bad) return `unknown field "${bad}"`;
    if (rest.script !== undefined && rest.script !== null && !isShortText(rest.script, 4096)) return '"script" must be a path';
    return { type, pid, script: (rest.script as string | undefined) ?? null };
  }
  if (type === 'phase') {
    const bad = extra(['name', 'event', 't']);
    if (bad) return `unknown field "${bad}"`;
    if (typeof rest.name !== 'string' || !PHASE_NAME.test(rest.name)) return '"name" must be a phase name such as model_load';
    if (rest.event !== 'start' && rest.event !== 'end') return '"event" must be "start" or "end"';
    if (rest.t !== undefined && (typeof rest.t !== 'number' || !Number.isFinite(rest.t) || rest.t <= 0)) return '"t" must be epoch milliseconds';
    return { type, pid, name: rest.name, event: rest.event, atMs: (rest.t as number | undefined) ?? null };
  }
  if (type === 'metrics') {
    const changes: Record<string, unknown> = {};
    for (const [key, val] of Object.entries(rest)) {
      const field = Object.hasOwn(METRIC_KEYS, key) ? METRIC_KEYS[key] : undefined;
      if (!field) return `unknown field "${key}"`;
      const ok =
        key === 'model_load_time_seconds' ? val === null || (typeof val === 'number' && Number.isFinite(val) && val >= 0 && val < 1e7)
        : key === 'optimizations' ? Array.isArray(val) && val.length <= 32 && val.every((o) => isShortText(o, 64))
        : key === 'quantization' ? val === null || isShortText(val, 32)
        : key === 'offload' ? typeof val === 'boolean'
        : key === 'steps' || key === 'steps_completed' ? typeof val === 'number' && Number.isSafeInteger(val) && val >= 0
        : isShortText(val);
      if (!ok) return `"${key}" has the wrong type or size`;
      changes[field] = val;
    }
    if (Object.keys(changes).length === 0) return 'no metric given';
    return { type, pid, changes: changes as TaskMetricsUpdate };
  }
  if (type === 'memory') {
    const bad = extra(['framework', 'peak_reserved_mb']);
    if (bad) return `unknown field "${bad}"`;
    if (rest.framework !== 'torch') return '"framework" must be "torch"';
    const mb = rest.peak_reserved_mb;
    if (typeof mb !== 'number' || !Number.isFinite(mb) || mb < 0 || mb > MAX_HELPER_VRAM_MB) return `"peak_reserved_mb" must be a number of MiB from 0 to ${MAX_HELPER_VRAM_MB}`;
    return { type, pid, framework: 'torch', peakReservedMb: mb };
  }
  return `unknown message type ${JSON.stringify(type)?.slice(0, 40)}`;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export class HelperChannel {
  private currentToken: string;
  private tokenDigest: Buffer;
  private server: Server | null = null;
  /** The stable socket this channel listens on, and its inode (cleanup removes only that one). */
  private stableSocket: { path: string; ino: number | null } | null = null;
  private socketDir: string | null = null;
  private address: string | null = null;
  private readonly sockets = new Set<Socket>();
  /** Connections that have not authenticated yet, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<Socket>();
  private authenticatedCount = 0;
  private readonly maxAuthenticated: number;
  private readonly maxWaiting: number;
  private readonly authTimeoutMs: number;
  private readonly loggedKinds = new Map<RejectKind, number>();
  private readonly maxLine: number;
  private readonly rate: number;
  private readonly now: () => number;
  /** Counts for tests and the log: accepted and refused messages. */
  readonly counts = { accepted: 0, rejected: 0 };

  constructor(private readonly options: HelperChannelOptions) {
    this.maxLine = options.maxLineBytes ?? 64 * 1024;
    this.rate = options.maxMessagesPerSecond ?? 50;
    this.now = options.now ?? Date.now;
    this.maxAuthenticated = options.maxConnections ?? 64;
    this.maxWaiting = options.maxUnauthenticated ?? 16;
    this.authTimeoutMs = options.authTimeoutMs ?? 2000;
    if (options.token !== undefined && !isHelperToken(options.token)) throw new Error('The helper token must be 64 hexadecimal digits');
    this.currentToken = options.token ?? newHelperToken();
    this.tokenDigest = digest(this.currentToken);
  }

  /** The token a sender must present. */
  get token(): string {
    return this.currentToken;
  }

  /**
   * Switches to a new token (default a random one) and returns it. Only new connections need it;
   * a connection that already authenticated keeps going (a run in progress is not cut off).
   */
  rotateToken(token: string = newHelperToken()): string {
    if (!isHelperToken(token)) throw new Error('The helper token must be 64 hexadecimal digits');
    this.currentToken = token;
    this.tokenDigest = digest(token);
    return token;
  }

  /** Listens; returns the address for MODEL_PERF_CHANNEL (`unix:/path` or `tcp:127.0.0.1:PORT`). */
  async start(): Promise<string> {
    if (this.address) return this.address;
    const server = createServer((socket) => this.accept(socket));
    // No server-wide cap (it would refuse the real helper once idle clients fill it): accept()
    // caps waiting and authenticated connections apart.
    const useTcp = this.options.tcp ?? process.platform === 'win32';
    const listen = (target: number | string) =>
      new Promise<void>((resolve, reject) => {
        const failed = (err: Error) => reject(err);
        server.once('error', failed);
        const ready = () => {
          server.off('error', failed);
          resolve();
        };
        if (typeof target === 'number') server.listen(target, '127.0.0.1', ready);
        else server.listen(target, ready);
      });
    if (useTcp) {
      const preferred = this.options.preferredPort;
      let bound = false;
      if (preferred !== undefined && Number.isInteger(preferred) && preferred > 0 && preferred < 65536) {
        // The previous session's port keeps a restored terminal's address valid; taken, any port does.
        bound = await listen(preferred).then(() => true, () => false);
      }
      if (!bound) await listen(0);
      const addr = server.address();
      this.address = `tcp:127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    } else {
      let path: string | null = null;
      if (this.options.socketPath !== undefined) {
        try {
          await prepareSocketPath(this.options.socketPath);
          await listen(this.options.socketPath);
          path = this.options.socketPath;
          this.stableSocket = { path, ino: await socketInode(path) };
        } catch (err) {
          this.options.log.warn(`Helper channel: the stable socket ${this.options.socketPath} cannot be used (${err instanceof Error ? err.message : String(err)}); using a new one, so terminals restored from an earlier session must be reopened`);
        }
      }
      if (path === null) {
        // A private folder (0700) of our own: only this user can reach the socket.
        this.socketDir = await mkdtemp(join(tmpdir(), 'model-perf-'));
        await chmod(this.socketDir, 0o700);
        path = join(this.socketDir, 'helper.sock');
        await listen(path);
      }
      this.address = `unix:${path}`;
    }
    server.on('error', (err) => this.options.log.warn(`The helper channel failed: ${err.message}`));
    this.server = server;
    return this.address;
  }

  /** The environment a child needs to reach this channel. */
  env(): Record<string, string> {
    if (!this.address) throw new Error('The helper channel has not started');
    return { [CHANNEL_ENV]: this.address, [TOKEN_ENV]: this.token };
  }

  private reject(kind: RejectKind, detail: string): void {
    this.counts.rejected++;
    const seen = this.loggedKinds.get(kind) ?? 0;
    this.loggedKinds.set(kind, seen + 1);
    if (seen === 0) this.options.log.warn(`Helper channel: refused a message (${kind}): ${detail}. Further refusals of this kind are counted, not logged.`);
  }

  /** How many messages of each kind were refused. */
  rejections(): Record<string, number> {
    return Object.fromEntries(this.loggedKinds);
  }

  private accept(socket: Socket): void {
    if (this.waiting.size >= this.maxWaiting) {
      const oldest = this.waiting.values().next().value;
      this.reject('too_many_unauthenticated', `more than ${this.maxWaiting} connections waiting to authenticate; the oldest was dropped`);
      if (oldest) {
        this.waiting.delete(oldest);
        oldest.destroy();
      }
    }
    let authenticated = false;
    this.sockets.add(socket);
    this.waiting.add(socket);
    // A client that says nothing (or nothing with the token) in time is dropped.
    const deadline = setTimeout(() => {
      if (authenticated || socket.destroyed) return;
      this.reject('auth_timeout', `a connection sent no token within ${this.authTimeoutMs} ms`);
      socket.destroy();
    }, this.authTimeoutMs);
    deadline.unref();
    socket.on('close', () => {
      clearTimeout(deadline);
      this.sockets.delete(socket);
      this.waiting.delete(socket);
      if (authenticated) this.authenticatedCount--;
    });
    socket.on('error', () => socket.destroy());
    socket.setTimeout(0);
    let buffered: Buffer[] = [];
    let bufferedBytes = 0;
    let discarding = false;
    let tokens = this.rate * 2;
    let refilledAt = this.now();
    const handle = (line: string) => {
      const t = this.now();
      tokens = Math.min(this.rate * 2, tokens + ((t - refilledAt) / 1000) * this.rate);
      refilledAt = t;
      if (tokens < 1) {
        this.reject('rate_limited', `more than ${this.rate} messages a second on one connection`);
        return;
      }
      tokens--;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        // Not our helper (it only sends JSON): close on the first bad line.
        this.reject('bad_json', 'not JSON; the connection was closed');
        socket.destroy();
        return;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        this.reject('schema', 'not a JSON object; the connection was closed');
        socket.destroy();
        return;
      }
      const record = value as Record<string, unknown>;
      const token = own(record, 'token');
      if (typeof token !== 'string' || !timingSafeEqual(digest(token), this.tokenDigest)) {
        this.reject('bad_token', 'the token is missing or wrong (a terminal of an earlier session, or another program)');
        // A sender without the token gets nothing more from us.
        socket.destroy();
        return;
      }
      if (!authenticated) {
        this.waiting.delete(socket);
        clearTimeout(deadline);
        if (this.authenticatedCount >= this.maxAuthenticated) {
          this.reject('too_many_connections', `more than ${this.maxAuthenticated} helper connections at once; the newest was closed`);
          socket.destroy();
          return;
        }
        authenticated = true;
        this.authenticatedCount++;
      }
      const message = validateMessage(record);
      if (typeof message === 'string') {
        this.reject('schema', message);
        return;
      }
      this.counts.accepted++;
      try {
        this.options.onMessage(message);
      } catch (err) {
        this.options.log.warn(`Helper channel: a message could not be applied: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, i);
        start = i + 1;
        if (discarding) {
          discarding = false;
          buffered = [];
          bufferedBytes = 0;
          continue;
        }
        const line = Buffer.concat([...buffered, piece]).toString('utf8');
        buffered = [];
        bufferedBytes = 0;
        if (line.length > this.maxLine) {
          this.reject('oversized', `a line longer than ${this.maxLine} bytes`);
          if (!authenticated) {
            socket.destroy();
            return;
          }
          continue;
        }
        if (line.trim()) handle(line);
        if (socket.destroyed) return;
      }
      const rest = chunk.subarray(start);
      if (discarding || rest.length === 0) return;
      bufferedBytes += rest.length;
      if (bufferedBytes > this.maxLine) {
        // Drop the line up to its end; an unauthenticated sender is cut off at once.
        this.reject('oversized', `a line longer than ${this.maxLine} bytes`);
        buffered = [];
        bufferedBytes = 0;
        discarding = true;
        if (!authenticated) socket.destroy();
        return;
      }
      buffered.push(Buffer.from(rest));
    });
  }

  async dispose(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.waiting.clear();
    const server = this.server;
    this.server = null;
    this.address = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.socketDir) await rm(this.socketDir, { recursive: true, force: true }).catch(() => undefined);
    this.socketDir = null;
    // The stable socket goes, its folder stays: a host of the next session may be using it already.
    if (this.stableSocket) await removeOwnSocket(this.stableSocket.path, this.stableSocket.ino);
    this.stableSocket = null;
  }
}

/**
 * Applies helper messages to the monitor's tasks: the task whose root process is the sender or
 * one of its ancestors, else the only running task if it had started when the message arrived;
 * a message that fits no task is logged once.
 */
export class HelperRouter {
  private unmatchedLogged = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly monitor: PerformanceMonitor,
    private readonly relations: ProcRelations,
    private readonly log: MonitorLogger,
    /** The monitor's clock (tasks' start times), read when a message arrives. */
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The task a message of `pid` belongs to. A sender outside every task's tree (its process has
   * exited, or it lives in another pid namespace) falls back to the only running task, but not
   * to one that started after the message arrived: that message was sent by an earlier run whose
   * process is gone (applied late because the queue was slow), never by this one.
   */
  async taskFor(pid: number, arrivedAtMs = this.now()): Promise<string | null> {
    const tasks = this.monitor.getActiveTasks();
    const byRoot = new Map<number, string>();
    for (const t of tasks) if (t.rootPid !== null) byRoot.set(t.rootPid, t.taskId);
    const root = byRoot.size > 0 ? await ancestorAmong(this.relations, pid, new Set(byRoot.keys())) : null;
    if (root !== null) return byRoot.get(root) ?? null;
    const only = tasks.length === 1 ? tasks[0] : undefined;
    return only !== undefined && only.startTime <= arrivedAtMs ? only.taskId : null;
  }

  /** Applies messages one after another, in the order they arrived. Resolves when this one is applied. */
  enqueue(message: HelperMessage): Promise<void> {
    const arrivedAtMs = this.now();
    this.chain = this.chain.then(() => this.apply(message, arrivedAtMs));
    return this.chain;
  }

  async apply(message: HelperMessage, arrivedAtMs = this.now()): Promise<void> {
    const taskId = await this.taskFor(message.pid, arrivedAtMs);
    if (taskId === null) {
      if (!this.unmatchedLogged) this.log.info(`Helper channel: a message from pid ${message.pid} matches no running task; ignored (logged once)`);
      this.unmatchedLogged = true;
      return;
    }
    try {
      if (message.type === 'phase') {
        const at = message.atMs ?? undefined;
        if (message.event === 'start') this.monitor.markTaskPhase(taskId, message.name, at);
        else this.monitor.endTaskPhase(taskId, message.name, at);
      } else if (message.type === 'metrics') {
        this.monitor.updateTaskMetrics(taskId, message.changes);
      } else if (message.type === 'memory') {
        this.monitor.reportHelperVram(taskId, message.pid, message.peakReservedMb);
      }
    } catch (err) {
      this.log.warn(`Helper channel: task "${taskId}" did not take a ${message.type} message: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
