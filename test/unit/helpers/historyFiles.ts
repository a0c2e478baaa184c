// What a storage folder's history holds, read straight from its day segments (not through the
// store): tests check what reached the disk.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PerformanceMetrics } from '../../../src/shared/metrics';

/** Every record in the day segments of `home`'s history folder, oldest segment first; [] when there is none. */
export async function historyRecords(home: string): Promise<PerformanceMetrics[]> {
  const dir = join(home, 'history');
  if (!existsSync(dir)) return [];
  const segments = (await readdir(dir)).filter((n) => /^\d{4}-\d{2}-\d{2}\.jsonl$/.test(n)).sort();
  const text = (await Promise.all(segments.map((n) => readFile(join(dir, n), 'utf8')))).join('');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as PerformanceMetrics);
}
