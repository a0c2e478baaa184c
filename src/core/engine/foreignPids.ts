// Whether the GPU tool's per-process list can show this machine's processes at all. It cannot when
// it is empty (WSL, MIG and some drivers list none) or when every pid it names is absent here (a
// container sees the host's pids). The container case, seen several samples in a row with memory
// in use, is said once with its remedy; a task's own VRAM then comes from other evidence.
import type { GpuProcessUsage } from '../ports';

/**
 * Samples in a row whose per-process list names only absent pids before the container case is
 * reported: one such list can be a process that exited between the tool's reading and ours.
 */
const FOREIGN_PID_SAMPLES = 3;

/** The one-time note when the GPU tool's pids are not this machine's, with the remedy. */
const FOREIGN_PIDS_NOTE =
  "The GPU tool lists processes whose pids do not exist here: this looks like a container that does not share the host's process ids, so a run's own GPU memory cannot be seen. " +
  'Start the container with --pid=host (docker run --pid=host …) for per-process figures; until then a run\'s VRAM is taken from the helper, the device\'s rise during the run, or the device, and labelled as such.';

export class ForeignPidWatch {
  private foreignSamples = 0;
  /**
   * The pids last looked at and whether they were all absent: a per-process list lasts several
   * samples (a new one every few seconds; each sample holds a copy, so compared by its pids), and a
   * pid that does not exist costs a thrown error.
   */
  private checked: { pids: number[]; foreign: boolean } | null = null;
  /** The note once the container case was seen (it does not go away). */
  note: string | null = null;

  constructor(
    private readonly pidExists: (pid: number) => boolean,
    /** Called once, when the note is first set, with the pids the tool listed. */
    private readonly onNote: (note: string, pidsShown: string) => void,
  ) {}

  /** True when `processes` cannot show this machine's processes (null: no list this sample). */
  hidden(processes: readonly GpuProcessUsage[] | null): boolean {
    if (processes === null) return false;
    if (processes.length === 0) return true;
    let checked = this.checked;
    if (checked === null || checked.pids.length !== processes.length || processes.some((p, i) => p.pid !== checked?.pids[i])) {
      checked = { pids: processes.map((p) => p.pid), foreign: processes.every((p) => !this.pidExists(p.pid)) };
      this.checked = checked;
    }
    const foreign = checked.foreign;
    const inUse = processes.some((p) => p.usedMemoryMb === null || p.usedMemoryMb > 0);
    this.foreignSamples = foreign && inUse ? this.foreignSamples + 1 : 0;
    if (this.foreignSamples >= FOREIGN_PID_SAMPLES && this.note === null) {
      this.note = FOREIGN_PIDS_NOTE;
      this.onNote(FOREIGN_PIDS_NOTE, processes.slice(0, 5).map((p) => p.pid).join(', '));
    }
    return foreign;
  }
}
