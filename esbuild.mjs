// Bundles the three faces: the extension host (CommonJS, `vscode` external), the CLI (a node
// script with a shebang) and the dashboard webview (browser). `--production` minifies and drops
// source maps; `--watch` rebuilds on change.
import * as esbuild from 'esbuild';
import { chmod, mkdir, rm } from 'node:fs/promises';

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
}
