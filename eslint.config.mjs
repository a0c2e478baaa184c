// Lint rules, including the architecture's boundaries: the engine (src/core) and the shared
// protocol (src/shared) never import `vscode`; src/shared and the webview never import node's
// modules; the webview never imports `vscode` or anything outside src/shared.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['node:*', 'fs', 'fs/promises', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'events', 'util', 'stream', 'worker_threads', 'url'];
const noVscode = { group: ['vscode'], message: 'The engine and the shared protocol must run in plain node: no `vscode` import here (see docs/ARCHITECTURE.md).' };
const noNode = { group: nodeBuiltins, message: 'This code also runs in the webview (a browser): no node modules here.' };

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.cache/**', 'test-output/**', 'dist-package/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noVscode] }] },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noVscode, noNode] }] },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          noVscode,
          noNode,
          { group: ['**/src/core/**', '**/src/host/**', '**/src/cli/**'], message: 'The webview imports only src/shared.' },
        ],
      }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', fetch: 'readonly', URLSearchParams: 'readonly' } },
  },
);
