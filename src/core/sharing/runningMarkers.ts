// Whether any process sharing a storage folder (a window, the CLI) has a task running: each
// running task keeps a marker under `running/`. The per-process GPU query runs only then. Changes
// of the history itself are the history store's to tell (JsonlHistoryStore.onDidChange).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RUNNING_DIR_NAME } from '../history/historyStore';

export async function anyTaskRunning(storageDir: string): Promise<boolean> {
  try {
    return (await readdir(join(storageDir, RUNNING_DIR_NAME))).some((f) => f.endsWith('.json'));
  } catch {
    // No folder yet, or unreadable: no running task can be seen there.
    return false;
  }
}
