// The helper's channel in terminals (issue 14): with a workspace open, terminals get the stable
// per-workspace socket path and the token kept in secret storage through a persistent environment
// collection, so a terminal restored after a reload reaches the next session without VS Code's
// "environment is stale" warning. "Model Perf: Rotate Helper Token" gives terminals opened after
// it a new token. A reload itself cannot be driven from inside this host; the address and token a
// terminal sees are what a restored terminal keeps.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { activeApi, waitFor } from './helpers';

const out = mkdtempSync(join(tmpdir(), 'model-perf-helper-env-'));

/** What `$MODEL_PERF_CHANNEL` and `$MODEL_PERF_TOKEN` are in a new bash terminal. */
async function terminalEnv(name: string): Promise<{ channel: string; token: string }> {
  const t = vscode.window.createTerminal({ name, shellPath: '/bin/bash' });
  try {
    const si = await waitFor('shell integration in the new terminal', () => t.shellIntegration, 20000);
    const file = join(out, `${name}.txt`);
    si.executeCommand(`printf '%s\\n%s\\n' "$MODEL_PERF_CHANNEL" "$MODEL_PERF_TOKEN" > ${file}.tmp && mv ${file}.tmp ${file}`);
    await waitFor(`${file} written`, () => existsSync(file), 20000);
    const [channel = '', token = ''] = readFileSync(file, 'utf8').split('\n');
    return { channel, token };
  } finally {
    t.dispose();
  }
}

describe("the helper's channel in terminals", function () {
  this.timeout(90000);
  if (process.platform === 'win32') return;

  before(async () => {
    await activeApi();
  });

  it("a terminal gets the workspace's stable socket path and a 32-byte token; rotating gives new terminals a new one", async () => {
    assert.ok(vscode.workspace.workspaceFolders?.length, 'the host suites run with a folder open');
    const first = await terminalEnv('helper-env-1');
    const uid = process.getuid?.() ?? 0;
    assert.match(first.channel, new RegExp(`^unix:.*/model-perf-${uid}-[0-9a-f]{16}/helper\\.sock$`), `a stable per-workspace path, not a per-session one (${first.channel})`);
    assert.match(first.token, /^[0-9a-f]{64}$/, 'a 32-byte token in hex');
    // A second terminal of the same session: the same address and token (nothing made per terminal).
    assert.deepEqual(await terminalEnv('helper-env-2'), first);
    const rotated = await vscode.commands.executeCommand<string>('modelPerf.rotateHelperToken');
    assert.match(rotated, /^[0-9a-f]{64}$/);
    assert.notEqual(rotated, first.token);
    const after = await terminalEnv('helper-env-3');
    assert.equal(after.token, rotated, 'terminals opened after the rotation get the new token');
    assert.equal(after.channel, first.channel, 'at the same address');
  });
});
