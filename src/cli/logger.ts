// The engine's logger for the CLI: warnings and errors go to stderr (stdout stays the data or the
// child's output); the engine's routine notes appear only with MODEL_PERF_DEBUG=1.
import type { MonitorLogger } from '../core/engine/monitorTypes';
import type { CliIo } from './io';

// cli.ts and runCommand.ts (edited elsewhere at the moment) still import it under this name.
export { errorText as errorMessage } from '../core/util/errors';

export function cliLogger(io: Pick<CliIo, 'stderr' | 'env'>, command: string): MonitorLogger {
  const debug = io.env.MODEL_PERF_DEBUG === '1';
  return {
    info: (message) => {
      if (debug) io.stderr.write(`model-perf ${command}: ${message}\n`);
    },
    warn: (message) => void io.stderr.write(`model-perf ${command}: warning: ${message}\n`),
    error: (message) => void io.stderr.write(`model-perf ${command}: ${message}\n`),
  };
}
