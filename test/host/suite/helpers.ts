// Shared helpers of the host suites (bundled into each suite by esbuild).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ModelPerfApi } from '../../../src/host/api';

export const EXTENSION_ID = 'model-perf.model-perf-monitor';

export async function activeApi(): Promise<ModelPerfApi> {
  const ext = vscode.extensions.getExtension<ModelPerfApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is installed`);
  return ext.isActive ? ext.exports : ext.activate();
}

export async function waitFor<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
