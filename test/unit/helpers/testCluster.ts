// A small real cluster for tests: two `model-perf serve` nodes (the built CLI, fake GPUs through
// the fake nvidia-smi: 2 RTX A6000 and 8 H100), a static target serving NVIDIA DCGM exporter's
// text for two A100s (Hostname dcgm-node-7), and Debian's `prometheus` scraping all three every
// second, offline, on 127.0.0.1, with a temporary storage folder. Shared by the CLI's
// integration test and the extension's e2e test; `stop()` kills every process it started.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { waitUntil } from './waitUntil';

// __filename, not __dirname: the tsx loader gives ESM importers (the e2e tests) only the first.
const BIN = join(dirname(__filename), '../../fixtures/bin');

/** Why the cluster cannot run here, or false when it can. */
export const testClusterSkip: string | false = process.platform === 'win32'
  ? 'the fake nvidia-smi is a node script with a shebang'
  : spawnSync('prometheus', ['--version'], { encoding: 'utf8' }).error ? 'prometheus is not installed (Debian: apt-get install prometheus, or scripts/setup-test-host.sh)' : false;

/** DCGM exporter's text for one host with two A100s, as dcgm-exporter 3.x prints it. */
const DCGM_TEXT = `# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-dcgm-0",device="nvidia0",modelName="NVIDIA A100-SXM4-40GB",Hostname="dcgm-node-7",DCGM_FI_DRIVER_VERSION="535.104.05"} 64
DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-dcgm-1",device="nvidia1",modelName="NVIDIA A100-SXM4-40GB",Hostname="dcgm-node-7",DCGM_FI_DRIVER_VERSION="535.104.05"} 3
# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-dcgm-0",device="nvidia0",modelName="NVIDIA A100-SXM4-40GB",Hostname="dcgm-node-7",DCGM_FI_DRIVER_VERSION="535.104.05"} 30000
DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-dcgm-1",device="nvidia1",modelName="NVIDIA A100-SXM4-40GB",Hostname="dcgm-node-7",DCGM_FI_DRIVER_VERSION="535.104.05"} 100
# HELP DCGM_FI_DEV_FB_FREE Framebuffer memory free (in MiB).
# TYPE DCGM_FI_DEV_FB_FREE gauge
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-dcgm-0",device="nvidia0",modelName="NVIDIA A100-SXM4-40GB",Hostname="dcgm-node-7",DCGM_FI_DRIVER_VERSION="535.104.05"} 10960
DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-dcgm-1",device="nvidia1",modelName="NVIDIA A100-SXM4-40GB",Hostname="dcgm-node-7",DCGM_FI_DRIVER_VERSION="535.104.05"} 40860
# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).
# TYPE DCGM_FI_DEV_GPU_TEMP gauge
DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-dcgm-0",device="nvidia0",modelName="NVIDIA A100-SXM4-40GB",Hostname="dcgm-node-7",DCGM_FI_DRIVER_VERSION="535.104.05"} 55
DCGM_FI_DEV_GPU_TEMP{gpu="1",UUID="GPU-dcgm-1",device="nvidia1",modelName="NVIDIA A100-SXM4-40GB",Hostname="dcgm-node-7",DCGM_FI_DRIVER_VERSION="535.104.05"} 31
# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).
# TYPE DCGM_FI_DEV_POWER_USAGE gauge
DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-dcgm-0",device="nvidia0",modelName="NVIDIA A100-SXM4-40GB",Hostname="dcgm-node-7",DCGM_FI_DRIVER_VERSION="535.104.05"} 250.5
DCGM_FI_DEV_POWER_USAGE{gpu="1",UUID="GPU-dcgm-1",device="nvidia1",modelName="NVIDIA A100-SXM4-40GB",Hostname="dcgm-node-7",DCGM_FI_DRIVER_VERSION="535.104.05"} 60
`;

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

export interface TestCluster {
  /** The throwaway folder everything lives in (each node's MODEL_PERF_HOME, prometheus' storage). */
  work: string;
  promUrl: string;
  nodeA: { proc: Started; port: number; instance: string };
  nodeB: { proc: Started; port: number; instance: string };
  dcgmPort: number;
  dcgmInstance: string;
  stop(): Promise<void>;
}

/**
 * Starts the cluster with `cli` (a built `model-perf` bundle; `prepare(work)` may build it into the
 * work folder and return its path). Resolves once prometheus is ready; its first scrapes follow.
 */
export async function startTestCluster(cli: string | ((work: string) => Promise<string>)): Promise<TestCluster> {
  const work = await mkdtemp(join(tmpdir(), 'model-perf-cluster-'));
  const children: ChildProcess[] = [];
  let dcgm: Server | null = null;
  const stop = async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (dcgm) {
      dcgm.closeAllConnections();
      await new Promise((resolve) => dcgm?.close(resolve));
    }
    await rm(work, { recursive: true, force: true });
  };
  const start = (command: string, args: string[], env: NodeJS.ProcessEnv): Started => {
    const child = spawn(command, args, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
    child.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
    return { child, output: () => output };
  };
  try {
    const cliPath = typeof cli === 'string' ? cli : await cli(work);
    const startServe = async (name: string, scenario: string) => {
      const proc = start(process.execPath, [cliPath, 'serve', '--port', '0', '--interval', '0.5'], {
        ...process.env,
        PATH: `${BIN}${delimiter}${process.env.PATH ?? ''}`,
        MODEL_PERF_HOME: join(work, name),
        FAKE_NVIDIA_SMI_SCENARIO: scenario,
      });
      const port = Number(await waitUntil(`${name} to listen`, () => /serving http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(proc.output())?.[1], { timeoutMs: 60_000 }));
      return { proc, port, instance: `127.0.0.1:${port}` };
    };
    const nodeA = await startServe('node-a', '2gpu');
    const nodeB = await startServe('node-b', '8gpu');
    dcgm = createHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(DCGM_TEXT);
    });
    await new Promise<void>((resolve) => dcgm?.listen(0, '127.0.0.1', resolve));
    const dcgmPort = (dcgm.address() as AddressInfo).port;
    const promPort = await freePort();
    const promUrl = `http://127.0.0.1:${promPort}`;
    const config = join(work, 'prometheus.yml');
    await writeFile(
      config,
      `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: model-perf
    static_configs:
      - targets: ['127.0.0.1:${nodeA.port}', '127.0.0.1:${nodeB.port}']
  - job_name: dcgm
    static_configs:
      - targets: ['127.0.0.1:${dcgmPort}']
`,
    );
    start('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(work, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], process.env);
    await waitUntil('prometheus to be ready', async () => (await fetch(`${promUrl}/-/ready`).catch(() => null))?.ok, { timeoutMs: 60_000, everyMs: 200 });
    return { work, promUrl, nodeA, nodeB, dcgmPort, dcgmInstance: `127.0.0.1:${dcgmPort}`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
