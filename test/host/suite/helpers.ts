// Shared helpers of the host suites (bundled into each suite by esbuild).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ModelPerfApi } from '../../../src/host/api';
import { waitUntil, type Probe } from '../../unit/helpers/waitUntil';

export const EXTENSION_ID = 'model-perf.model-perf-monitor';

export async function activeApi(): Promise<ModelPerfApi> {
  const ext = vscode.extensions.getExtension<ModelPerfApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is installed`);
  return ext.isActive ? ext.exports : ext.activate();
}

export function waitFor<T>(what: string, probe: Probe<T>, timeoutMs = 30000): Promise<T> {
  return waitUntil(what, probe, { timeoutMs, everyMs: 100 });
}
