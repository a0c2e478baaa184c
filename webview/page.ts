// The dashboard page's state and its line to the host: what is shown (the last state the host
// sent, the user's choices), the host's clock, and the one way to post a message back.
import { parsePersistedViewState, type AnalysisWindowHours, type DashboardState, type FromWebview, type LiveRange } from '../src/shared/protocol';
import { readTheme, type ChartTheme } from './charts';
import { DEFAULT_QUERY, type HistoryQuery } from './viewModel';

interface VsCodeApi {
  postMessage(msg: FromWebview): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const persisted = parsePersistedViewState(vscode.getState());

/** What the page holds between messages; sections read it and the message handler updates it. */
export const page: {
  state: DashboardState | null;
  /** Host clock minus ours, so elapsed times use the host's notion of now. */
  clockOffsetMs: number;
  range: LiveRange;
  windowHours: AnalysisWindowHours;
  query: HistoryQuery;
  selected: { taskId: string; startTime: number } | null;
  /** Tasks ticked for comparison in the history table, oldest tick first (at most two). */
  compare: { taskId: string; startTime: number }[];
  theme: ChartTheme;
} = {
  state: null,
  clockOffsetMs: 0,
  range: persisted.range,
  windowHours: persisted.windowHours,
  query: { ...DEFAULT_QUERY },
  selected: null,
  compare: [],
  theme: readTheme(),
};

export function send(msg: FromWebview): void {
  vscode.postMessage(msg);
}

export function hostNow(): number {
  return Date.now() + page.clockOffsetMs;
}

export function persist(): void {
  vscode.setState({ range: page.range, windowHours: page.windowHours });
}
