// Bundles the suites that run inside the extension host (test/host) into out/test/host, as the
// extension host loads plain CommonJS. `vscode` and `mocha` stay external (the host provides the
// first, the repository's node_modules the second).
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';

const suites = readdirSync('test/host/suite').filter((f) => f.endsWith('.test.ts'));
const entryPoints = {
  index: 'test/host/index.ts',
  'failing/index': 'test/host/failing/index.ts',
  ...Object.fromEntries(suites.map((f) => [f.replace(/\.ts$/, ''), `test/host/suite/${f}`])),
};
await esbuild.build({
  entryPoints,
  outdir: 'out/test/host',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'inline',
  external: ['vscode', 'mocha'],
  logLevel: 'warning',
});
