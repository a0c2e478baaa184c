// A stand-in for the `vscode` module, enough to run the extension's activation outside VS Code
// (bench-history's activation rows bundle src/host/extension.ts with `vscode` aliased to this).
// What the activation path reads has real values: settings from $BENCH_VSCODE_SETTINGS (JSON, keys
// as in package.json without "modelPerf."), a focused window, a status bar item that records each
// text it is given with the time (globalThis.benchVscode.statusTexts). Anything else is an inert
// stand-in: callable, constructible, every property another stand-in, never a thenable.
'use strict';

const statusTexts = [];
/** An extension context for `activate`: memento state, no secrets, inert for the rest. */
function extensionContext(extensionPath, storagePath) {
  const memento = () => {
    const m = new Map();
    return { get: (k, d) => (m.has(k) ? m.get(k) : d), update: async (k, v) => void m.set(k, v), keys: () => [...m.keys()], setKeysForSync() {} };
  };
  return withFallback('ExtensionContext', {
    subscriptions: [],
    globalState: memento(),
    workspaceState: memento(),
    extensionPath,
    asAbsolutePath: (p) => `${extensionPath}/${p}`,
    storagePath: undefined,
    globalStoragePath: storagePath,
    logPath: storagePath,
    environmentVariableCollection: withFallback('EnvironmentVariableCollection', { persistent: false, description: undefined, replace() {}, append() {}, prepend() {}, get() {}, delete() {}, clear() {}, forEach() {}, getScoped() { return this; } }),
  });
}
globalThis.benchVscode = { statusTexts, extensionContext };

const disposable = { dispose() {} };

function inert(name) {
  return new Proxy(function () {}, {
    get(target, key) {
      if (key === 'then') return undefined;
      if (key === Symbol.toPrimitive || key === 'toString') return () => name;
      if (key === 'dispose') return () => undefined;
      if (key in target && key !== 'name' && key !== 'length') return target[key];
      return inert(`${name}.${String(key)}`);
    },
    apply: () => inert(`${name}()`),
    construct: () => inert(`new ${name}`),
  });
}

/** `object`, with an inert stand-in for whatever it does not have. */
function withFallback(name, object) {
  return new Proxy(object, {
    get(target, key) {
      if (key in target) return target[key];
      if (key === 'then' || typeof key === 'symbol') return undefined;
      return inert(`${name}.${String(key)}`);
    },
  });
}

function statusBarItem() {
  let text = '';
  return {
    name: '',
    command: undefined,
    tooltip: undefined,
    backgroundColor: undefined,
    accessibilityInformation: undefined,
    get text() {
      return text;
    },
    set text(value) {
      text = value;
      statusTexts.push({ text: value, atMs: performance.now() });
    },
    show() {},
    hide() {},
    dispose() {},
  };
}

class EventEmitter {
  constructor() {
    this.listeners = [];
    this.event = (listener) => {
      this.listeners.push(listener);
      return disposable;
    };
  }
  fire(value) {
    for (const l of this.listeners) l(value);
  }
  dispose() {
    this.listeners = [];
  }
}

const settings = () => JSON.parse(process.env.BENCH_VSCODE_SETTINGS ?? '{}');
const log = () => withFallback('OutputChannel', { info() {}, warn() {}, error() {}, debug() {}, trace() {}, append() {}, appendLine() {}, show() {}, dispose() {} });

const vscode = {
  __esModule: true,
  EventEmitter,
  StatusBarAlignment: { Left: 1, Right: 2 },
  window: withFallback('window', {
    state: { focused: true },
    createOutputChannel: log,
    createStatusBarItem: statusBarItem,
    onDidChangeWindowState: () => disposable,
  }),
  workspace: withFallback('workspace', {
    workspaceFolders: undefined,
    getConfiguration: () => ({ get: (key) => settings()[key], has: (key) => key in settings(), inspect: () => undefined, update: async () => undefined }),
    onDidChangeConfiguration: () => disposable,
    registerTextDocumentContentProvider: () => disposable,
  }),
  commands: withFallback('commands', { registerCommand: () => disposable, executeCommand: async () => undefined }),
};
// A bundler copies the module's own keys: the other names the extension reads are listed here.
for (const name of ['Disposable', 'Uri', 'debug', 'tasks', 'ThemeColor', 'extensions', 'ViewColumn', 'ShellQuotedString', 'ShellExecution', 'ProgressLocation', 'ProcessExecution', 'MarkdownString', 'env', 'l10n']) {
  vscode[name] = inert(`vscode.${name}`);
}

module.exports = withFallback('vscode', vscode);
