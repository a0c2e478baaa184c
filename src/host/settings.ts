// Reads `modelPerf.*` settings through one typed accessor. A value outside its range is replaced
// by the default and reported once, so a typo in settings.json never stops the monitor.
import type * as vscode from 'vscode';

export interface HostSettings {
  monitoringIntervalMs: number;
}

export const defaultHostSettings: HostSettings = { monitoringIntervalMs: 1000 };

type ConfigReader = Pick<vscode.WorkspaceConfiguration, 'get'>;

export function readSettings(config: ConfigReader, warn: (message: string) => void): HostSettings {
  const out: HostSettings = { ...defaultHostSettings };
  const interval = config.get<unknown>('monitoringIntervalSeconds');
  if (interval !== undefined) {
    if (typeof interval === 'number' && Number.isFinite(interval) && interval >= 0.25 && interval <= 60) {
      out.monitoringIntervalMs = Math.round(interval * 1000);
    } else {
      warn(`Setting modelPerf.monitoringIntervalSeconds must be a number from 0.25 to 60 (got ${JSON.stringify(interval)}); using ${defaultHostSettings.monitoringIntervalMs / 1000}.`);
    }
  }
  return out;
}
