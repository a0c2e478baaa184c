// Bundles the three faces: the extension host (CommonJS, `vscode` external), the CLI (a node
// script with a shebang) and the dashboard webview (browser). `--production` minifies and drops
// source maps, and copies the runtime of koffi (the FFI of the NVML backend, which the bundles
// require at run time, never bundled: it loads a native binary) into dist/node_modules, for the
// platforms NVML exists on; `--watch` rebuilds on change.
import * as esbuild from 'esbuild';
import { chmod, copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
  bundle: true,
  minify: production,
  sourcemap: production ? false : 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  legalComments: 'none',
};

/** Reports each finished build, so `--watch` users see when the output is fresh. */
const reporter = (name) => ({
  name: `report-${name}`,
  setup(build) {
    build.onEnd((result) => {
      const errors = result.errors.length;
      if (watch) console.log(`[${new Date().toLocaleTimeString()}] ${name}: ${errors ? `${errors} error(s)` : 'built'}`);
    });
  },
});

const configs = [
  {
    ...common,
    entryPoints: { extension: 'src/host/extension.ts' },
    outdir: 'dist',
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode'],
    plugins: [reporter('extension')],
  },
  {
    ...common,
    entryPoints: { cli: 'src/cli/main.ts' },
    outdir: 'dist',
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    banner: { js: '#!/usr/bin/env node' },
    plugins: [reporter('cli')],
  },
  {
    ...common,
    entryPoints: { dashboard: 'webview/main.ts' },
    outdir: 'dist/webview',
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    plugins: [reporter('webview')],
  },
];

// A production build starts clean so no stale source map reaches the package.
if (production) await rm('dist', { recursive: true, force: true });
await mkdir('dist', { recursive: true });
if (watch) {
  const contexts = await Promise.all(configs.map((c) => esbuild.context(c)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('watching src/ and webview/ (Ctrl-C to stop)');
} else {
  const results = await Promise.allSettled(configs.map((c) => esbuild.build(c)));
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length > 0) {
    for (const f of failed) console.error(String(f.reason?.message ?? f.reason));
    process.exit(1);
  }
  await chmod('dist/cli.js', 0o755);
  if (production) await copyKoffiRuntime();
}

/**
 * koffi's loader and its prebuilt binaries where NVIDIA ships NVML: Linux x64 and arm64, Windows
 * x64 (no macOS build; no discrete-GPU driver for Windows on arm64). Found by `require('koffi')`
 * from dist/*.js. Its sources, docs and the other platforms' binaries (about 20 MB) stay out of the
 * package; these three add about 1.3 MiB to the .vsix. Elsewhere NVML reports koffi missing and the
 * stream is used.
 */
async function copyKoffiRuntime() {
  const from = 'node_modules/koffi';
  const to = 'dist/node_modules/koffi';
  const files = ['package.json', 'index.js', 'LICENSE.txt', ...['linux_x64', 'linux_arm64', 'win32_x64'].map((p) => `build/koffi/${p}/koffi.node`)];
  for (const file of files) {
    await mkdir(dirname(join(to, file)), { recursive: true });
    await copyFile(join(from, file), join(to, file));
  }
}
