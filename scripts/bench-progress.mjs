// What the progress parser costs per MB of a run's output: the recorded fixtures of
// test/fixtures/progress (tqdm, rich, Keras; terminal and pipe) repeated to 8 MB, fed as the
// terminal hands them over (4 KiB reads), as one write per redraw, and (1 MB of it) one
// character at a time. Prints the median of 5 runs per way: CPU time (user + system, so other work
// on the machine inflates it less than wall time) in ms per MB, MB per CPU second, and the
// characters the line parser read per character of output.
//
//   node scripts/bench-progress.mjs
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = join(ROOT, 'test/fixtures/progress');
const MB = 1024 * 1024;

async function loadParser(dir) {
  const esbuild = await import('esbuild');
  const out = join(dir, 'progress.mjs');
  await esbuild.build({ entryPoints: [join(ROOT, 'src/core/runs/progress.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'error' });
  return (await import(pathToFileURL(out).href)).ProgressParser;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function run(ProgressParser, chunks, chars) {
  const times = [];
  let parsed = 0;
  for (let i = 0; i < 5; i++) {
    const p = new ProgressParser();
    const c0 = process.cpuUsage();
    for (const c of chunks) p.push(c);
    // What the status bar reads after the output (the line still being drawn included).
    void p.latest;
    const used = process.cpuUsage(c0);
    times.push((used.user + used.system) / 1000);
    parsed = p.parsedChars;
  }
  const ms = median(times);
  const mb = chars / MB;
  return { msPerMb: ms / mb, mbPerSecond: mb / (ms / 1000), parsedPerChar: parsed / chars };
}

async function main() {
  const names = (await readdir(FIXTURES)).filter((f) => f.endsWith('.txt')).sort();
  let corpus = '';
  const one = (await Promise.all(names.map((n) => readFile(join(FIXTURES, n), 'utf8')))).join('');
  while (corpus.length < 8 * MB) corpus += one;
  corpus = corpus.slice(0, 8 * MB);
  const dir = await mkdtemp(join(tmpdir(), 'bench-progress-'));
  try {
    const ProgressParser = await loadParser(dir);
    const reads = [];
    for (let i = 0; i < corpus.length; i += 4096) reads.push(corpus.slice(i, i + 4096));
    const redraws = corpus.split(/(?=\r)/);
    const small = corpus.slice(0, MB);
    const rows = [
      ['4 KiB reads (a terminal)', run(ProgressParser, reads, corpus.length)],
      ['one write per redraw', run(ProgressParser, redraws, corpus.length)],
      ['one character at a time (1 MB)', run(ProgressParser, [...small], small.length)],
    ];
    console.log(`progress parser, ${names.length} fixtures repeated to ${(corpus.length / MB).toFixed(0)} MB (node ${process.version})`);
    for (const [name, r] of rows) console.log(`  ${name.padEnd(32)} ${r.msPerMb.toFixed(1).padStart(8)} ms CPU/MB  ${r.mbPerSecond.toFixed(1).padStart(7)} MB per CPU s  ${r.parsedPerChar.toFixed(2)} parsed chars per char`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
