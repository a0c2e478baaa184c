// The engine as a benchmark loads it: the named exports of src/ bundled by esbuild into one ESM
// file in `dir`, so a bench needs no prior build and measures the same code the tests run.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Bundles `exportLines` (e.g. "export { X } from './src/core/…';", paths from the repository root)
 * into `dir/name.mjs` and returns its path. `alias` maps module names to files (`vscode` to a stub).
 * `requireShim` gives the bundle a `require` for CommonJS
 * dependencies pulled in along the way. `root` is where the paths in `exportLines` start (another
 * commit's sources unpacked elsewhere: scripts/bench-ab.mjs).
 */
export async function bundleEngine(dir, name, exportLines, { requireShim = false, alias = undefined, root = ROOT } = {}) {
  const esbuild = await import('esbuild');
  const outfile = join(dir, `${name}.mjs`);
  await esbuild.build({
    stdin: { contents: exportLines.join('\n'), resolveDir: root, loader: 'ts', sourcefile: `${name}.ts` },
    // Another commit's sources (`root`) use this checkout's packages.
    nodePaths: [join(ROOT, 'node_modules')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'error',
    ...(alias ? { alias } : {}),
    ...(requireShim ? { banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" } } : {}),
  });
  return outfile;
}
