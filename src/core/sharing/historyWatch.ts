// What an engine sharing a storage folder needs to know of the other processes writing there:
// whether any of them has a task running (its marker under `running/`), and when one of them
// changed the history file. Kept to this one interface so that it can give way to the history
// store's own change notification without touching the engine's assembly.
import { watch as fsWatch } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HISTORY_FILE_NAME, RUNNING_DIR_NAME } from '../history/historyStore';
import { systemClock, type Clock, type TimerHandle } from '../ports';
import type { Disposable } from '../util/emitter';
import { errorText } from '../util/errors';

/** Several appends in a row (a burst of tasks ending) cost one reload. */
const RELOAD_DEBOUNCE_MS = 500;

export interface HistoryFolderWatch {
  /** Whether any process (this one included) has a task running with its marker in the folder. */
  anyTaskRunning(): Promise<boolean>;
  /**
   * Calls `onChange` once things settle after the history file changed (debounced). A folder that
   * cannot be watched is told to `onWarn` and changes then appear only on the next reload.
   */
  watchHistory(onChange: () => void, onWarn: (message: string) => void): Disposable;
}

/** The part of node's fs.watch used here: a listener per change, an `error` event, close(). */
export type WatchFolder = (dir: string, onEvent: (filename: string | null) => void) => { on(event: 'error', listener: (err: Error) => void): unknown; close(): void };

const watchFolder: WatchFolder = (dir, onEvent) => fsWatch(dir, { persistent: false }, (_event, name) => onEvent(name));

export interface HistoryFolderWatchOptions {
  /** Tests only. */
  clock?: Clock;
  /** Tests only. */
  watch?: WatchFolder;
}

export function historyFolderWatch(dir: string, options: HistoryFolderWatchOptions = {}): HistoryFolderWatch {
  const clock = options.clock ?? systemClock;
  const watch = options.watch ?? watchFolder;
  return {
    async anyTaskRunning() {
      try {
        return (await readdir(join(dir, RUNNING_DIR_NAME))).some((f) => f.endsWith('.json'));
      } catch {
        // No folder yet, or unreadable: no running task can be seen there.
        return false;
      }
    },
    watchHistory(onChange, onWarn) {
      let timer: TimerHandle | null = null;
      let stopped = false;
      try {
        // fs.watch costs nothing between changes; a filename of null (some platforms) may be ours.
        const watcher = watch(dir, (name) => {
          if (stopped || (name && name !== HISTORY_FILE_NAME)) return;
          if (timer) clock.clearTimeout(timer);
          timer = clock.setTimeout(() => {
            timer = null;
            if (!stopped) onChange();
          }, RELOAD_DEBOUNCE_MS);
        });
        watcher.on('error', (err) => onWarn(`Stopped watching ${dir} for tasks of other windows: ${err.message}`));
        return {
          dispose: () => {
            stopped = true;
            if (timer) clock.clearTimeout(timer);
            watcher.close();
          },
        };
      } catch (err) {
        onWarn(`Cannot watch ${dir} for tasks of other windows (${errorText(err)}); they appear after a reload.`);
        return { dispose: () => undefined };
      }
    },
  };
}
