// Turns how nvidia-smi failed (exit code, spawn error, what it printed) into a sentence a user can
// act on. Kept apart from the provider so every known failure has a fixture-backed test.

/** What went wrong, coarse enough to decide what to do next (retry, fall back, give up). */
type NvidiaSmiFailureKind =
  | 'not-installed'
  | 'permission-denied'
  | 'no-gpu'
  | 'driver-not-loaded'
  | 'driver-mismatch'
  | 'invalid-field'
  | 'insufficient-permissions'
  | 'gpu-lost'
  | 'timeout'
  | 'killed'
  | 'unknown';

export interface NvidiaSmiFailure {
  kind: NvidiaSmiFailureKind;
  /** A sentence for the dashboard and the log. */
  reason: string;
  /** For `invalid-field`: the query name the driver rejected. */
  invalidField?: string;
  /** True when retrying later may help without the user doing anything. */
  transient: boolean;
}

export interface NvidiaSmiOutcome {
  code: number | null;
  signal?: string | null;
  /** `ENOENT`, `EACCES`, ... when the process could not be started. */
  spawnErrorCode?: string | null;
  stdout?: string;
  stderr?: string;
  timedOut?: boolean;
  /** The executable that was run, named in messages so users know which one failed. */
  command?: string;
}

/** First non-empty line of the tool's own words, cleaned, for quoting in a message. */
function firstLine(text: string): string {
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  const clean = line.replace(/[\u0000-\u001f\u007f]/g, '');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

/**
 * Classifies a failed run. Returns null when the run succeeded (exit 0, not killed, no spawn error).
 * The tool prints some failures on stdout (exit 9, exit 6), others on stderr, so both are read.
 */
export function describeNvidiaSmiFailure(outcome: NvidiaSmiOutcome): NvidiaSmiFailure | null {
  const cmd = outcome.command ?? 'nvidia-smi';
  const text = `${outcome.stderr ?? ''}\n${outcome.stdout ?? ''}`;
  const spawnCode = outcome.spawnErrorCode ?? null;

  if (spawnCode === 'ENOENT' || outcome.code === 127) {
    return {
      kind: 'not-installed',
      reason: `nvidia-smi not found (${cmd}); GPU figures are off. Install the NVIDIA driver, or set the path to nvidia-smi in settings.`,
      transient: false,
    };
  }
  if (spawnCode === 'EACCES' || spawnCode === 'EPERM' || outcome.code === 126) {
    return {
      kind: 'permission-denied',
      reason: `${cmd} exists but cannot be run (permission denied); GPU figures are off. Check that the file is executable by your user.`,
      transient: false,
    };
  }
  if (spawnCode) {
    return {
      kind: 'unknown',
      reason: `nvidia-smi could not be started (${spawnCode}); GPU figures are off.`,
      transient: true,
    };
  }
  if (outcome.timedOut) {
    return {
      kind: 'timeout',
      reason: 'nvidia-smi did not answer in time; GPU figures are paused. A busy or hung driver can cause this; it is retried.',
      transient: true,
    };
  }

  const invalid = /Field "([^"]{1,100})" is not a valid field to query/i.exec(text);
  if (invalid) {
    return {
      kind: 'invalid-field',
      reason: `This NVIDIA driver does not know the query field "${invalid[1]}"; it is left out and shown as unknown.`,
      invalidField: invalid[1] as string,
      transient: false,
    };
  }
  if (/Driver\/library version mismatch/i.test(text)) {
    return {
      kind: 'driver-mismatch',
      reason:
        'NVIDIA driver/library version mismatch (the driver was updated but the old one is still loaded); GPU figures are off. Reboot the machine to load the new driver.',
      transient: false,
    };
  }
  if (outcome.code === 9 || /couldn't communicate with the NVIDIA driver|NVIDIA driver is not loaded|Driver Not Loaded/i.test(text)) {
    return {
      kind: 'driver-not-loaded',
      reason:
        'nvidia-smi could not talk to the NVIDIA driver (driver not loaded); GPU figures are off. Check that the NVIDIA driver is installed and loaded (for example with `lsmod | grep nvidia`), or reboot after installing it.',
      transient: true,
    };
  }
  if (/GPU is lost|GPU has fallen off the bus/i.test(text)) {
    return {
      kind: 'gpu-lost',
      reason: 'A GPU stopped responding ("GPU is lost"); GPU figures are off. This usually needs a reboot; check `dmesg` for Xid errors.',
      transient: true,
    };
  }
  if (outcome.code === 6 || /No devices were found/i.test(text)) {
    return {
      kind: 'no-gpu',
      reason: 'nvidia-smi found no NVIDIA GPU on this machine; GPU figures are off. In a container, pass the GPUs through (for example `--gpus all`).',
      transient: false,
    };
  }
  if (outcome.code === 4 || /Insufficient Permissions/i.test(text)) {
    return {
      kind: 'insufficient-permissions',
      reason: 'nvidia-smi reported insufficient permissions; GPU figures are off. Run VS Code as a user allowed to query the GPU.',
      transient: false,
    };
  }
  if (outcome.code === 0 && !outcome.signal) return null;
  if (outcome.code === null && outcome.signal) {
    return {
      kind: 'killed',
      reason: `nvidia-smi was stopped by signal ${outcome.signal}; it is restarted.`,
      transient: true,
    };
  }
  const said = firstLine(text);
  const mismatchHint = outcome.code === 255 ? ' Exit code 255 often follows a driver update; a reboot usually fixes it.' : '';
  return {
    kind: 'unknown',
    reason: `nvidia-smi failed with exit code ${outcome.code ?? 'unknown'}${said ? `: "${said}"` : ''}; GPU figures are off.${mismatchHint}`,
    transient: true,
  };
}
