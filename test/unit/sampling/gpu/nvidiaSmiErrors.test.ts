import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeNvidiaSmiFailure } from '../../../../src/core/sampling/gpu/nvidiaSmiErrors';

const FIX = join(__dirname, '../../../fixtures/nvidia-smi');
const fixture = (name: string): string => readFileSync(join(FIX, name), 'utf8');

test('success is not a failure', () => {
  assert.equal(describeNvidiaSmiFailure({ code: 0, stdout: '0, GPU-1' }), null);
});

test('not installed: ENOENT and exit 127 say so and how to fix it', () => {
  for (const outcome of [{ code: null, spawnErrorCode: 'ENOENT' }, { code: 127, stderr: 'sh: nvidia-smi: command not found' }]) {
    const f = describeNvidiaSmiFailure(outcome);
    assert.equal(f?.kind, 'not-installed');
    assert.match(f?.reason ?? '', /nvidia-smi not found.*GPU figures are off/);
    assert.match(f?.reason ?? '', /settings/);
  }
});

test('exit 6: no GPU found', () => {
  const f = describeNvidiaSmiFailure({ code: 6, stdout: fixture('exit6-stdout.txt') });
  assert.equal(f?.kind, 'no-gpu');
  assert.match(f?.reason ?? '', /no NVIDIA GPU/);
});

test('exit 9: driver not loaded, with a next step', () => {
  const f = describeNvidiaSmiFailure({ code: 9, stdout: fixture('exit9-stdout.txt') });
  assert.equal(f?.kind, 'driver-not-loaded');
  assert.match(f?.reason ?? '', /driver not loaded/);
  assert.match(f?.reason ?? '', /lsmod|reboot/);
});

test('exit 255 with Driver/library version mismatch: reboot advice', () => {
  const f = describeNvidiaSmiFailure({ code: 255, stdout: fixture('exit255-mismatch-stdout.txt') });
  assert.equal(f?.kind, 'driver-mismatch');
  assert.match(f?.reason ?? '', /Reboot/);
  assert.equal(f?.transient, false);
});

test('exit 255 otherwise: quotes the tool and hints at the usual cause', () => {
  const f = describeNvidiaSmiFailure({ code: 255, stderr: fixture('exit255-other-stderr.txt') });
  assert.equal(f?.kind, 'unknown');
  assert.match(f?.reason ?? '', /exit code 255: "Unable to determine the device handle/);
  assert.match(f?.reason ?? '', /reboot/);
});

test('an invalid query field is named so the provider can drop it', () => {
  const f = describeNvidiaSmiFailure({ code: 2, stderr: fixture('exit2-invalid-field-stderr.txt') });
  assert.equal(f?.kind, 'invalid-field');
  assert.equal(f?.invalidField, 'clocks.sm');
});

test('permission, timeout, signal and hostile output', () => {
  assert.equal(describeNvidiaSmiFailure({ code: null, spawnErrorCode: 'EACCES' })?.kind, 'permission-denied');
  assert.equal(describeNvidiaSmiFailure({ code: null, timedOut: true, signal: 'SIGKILL' })?.kind, 'timeout');
  assert.equal(describeNvidiaSmiFailure({ code: null, signal: 'SIGSEGV' })?.kind, 'killed');
  assert.equal(describeNvidiaSmiFailure({ code: 15, stdout: 'Unable to determine the device handle for GPU0: GPU is lost' })?.kind, 'gpu-lost');
  const hostile = describeNvidiaSmiFailure({ code: 3, stderr: `\x1b[2J${'x'.repeat(10_000)}` });
  assert.ok((hostile?.reason.length ?? 0) < 400);
  assert.doesNotMatch(hostile?.reason ?? '', /[\u0000-\u001f]/);
});
