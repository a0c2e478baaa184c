// Per-task figures accumulated as samples arrive: time-weighted averages, true peaks, one sample at
// start and one at end. Nothing is rebuilt from the snapshot ring at the end, so a 0.3 s task still
// gets figures and a 10-hour task keeps its whole history after the ring has wrapped.
import type { FigureScope, GitCommit, PerformanceMetrics, RunPrediction, TaskPhase, TaskStatus, VramScope } from '../../shared/metrics';
import type { SystemPerformanceSnapshot } from '../../shared/snapshot';
import type { GpuProcessUsage, ProcessTreeReading } from '../ports';
import { normalizeResolution } from './resolution';
import { throttleOf, TimelineRecorder } from './taskTimeline';
import { visibleGpuIndices } from './visibleDevices';
import type { DeviceEnvironment } from '../sampling/os/processEnv';

/** One observation fed to every running task. */
export interface TaskSample {
  /** Epoch ms; clamped into [startTime, endTime] by the accumulator. */
  timestamp: number;
  snapshot: SystemPerformanceSnapshot | null;
  /** Per-process GPU memory from the provider; null when it cannot attribute memory. */
  gpuProcesses: GpuProcessUsage[] | null;
  /** This task's process tree; null when it has no root pid or the tree could not be read. */
  tree: ProcessTreeReading | null;
  /**
   * True when the per-process list cannot show this machine's processes at this instant: it is
   * empty (WSL, MIG, some drivers list nothing) or every pid it names is absent here (a container
   * sees the host's pids). A tree missing from such a list is unknown, not 0. Absent: false.
   */
  processesHidden?: boolean;
}

/** A GPU counts as risen during a task when its memory grew by more than this (noise, a desktop's wobble). */
const DEVICE_DELTA_NOISE_MB = 64;

/**
 * Trapezoidal time-weighted mean and true peak of one series. A null value is a gap: the time
 * across it is not counted, rather than inventing values that were never measured.
 */
export class TimeWeightedSeries {
  private lastTimeMs: number | null = null;
  private lastValue = 0;
  private area = 0;
  private weightMs = 0;
  private sum = 0;
  private count = 0;
  private max: number | null = null;

  add(timeMs: number, value: number | null): void {
    if (value === null || !Number.isFinite(value)) {
      this.lastTimeMs = null;
      return;
    }
    if (this.lastTimeMs !== null && timeMs > this.lastTimeMs) {
      const dt = timeMs - this.lastTimeMs;
      this.area += ((this.lastValue + value) / 2) * dt;
      this.weightMs += dt;
    }
    this.lastTimeMs = this.lastTimeMs === null ? timeMs : Math.max(this.lastTimeMs, timeMs);
    this.lastValue = value;
    this.sum += value;
    this.count++;
    if (this.max === null || value > this.max) this.max = value;
  }

  /** Time-weighted when samples span time; plain mean when they all share one instant. */
  get average(): number | null {
    if (this.count === 0) return null;
    return this.weightMs > 0 ? this.area / this.weightMs : this.sum / this.count;
  }

  get peak(): number | null {
    return this.max;
  }

  get known(): boolean {
    return this.count > 0;
  }
}

interface GpuSeries {
  vramUsedMb: TimeWeightedSeries;
  utilizationPercent: TimeWeightedSeries;
  vramTotalMb: number | null;
  /** VRAM in use at the task's first reading of this GPU, to tell which GPU's memory rose. */
  firstVramUsedMb: number | null;
}

/** A GPU whose memory rose less than this during a run is not taken for the one it ran on. */
const VRAM_RISE_MIN_MB = 256;

export interface TaskStartInfo {
  taskId: string;
  modelType: string;
  resolution: string;
  steps: number;
  startTime: number;
  rootPid?: number | null;
  optimizationsApplied?: string[];
  quantizationUsed?: string | null;
  offloadUsed?: boolean;
  /** Pin the task to these GPUs instead of inferring them from per-process memory. */
  gpuIndices?: number[] | null;
  /**
   * Started after the run itself (adopted after a reload): the first sample is not a baseline
   * from before the run, so the device's rise since then is not the run's (no `deviceDelta`).
   */
  startedLate?: boolean;
  /** Found already running when this process started, and followed from then (see PerformanceMetrics.adopted). */
  adopted?: boolean;
}

/** Mutable descriptive fields of a running task (what updateTaskMetrics may change). */
export interface TaskDescription {
  modelType: string;
  resolution: string;
  steps: number;
  modelLoadTimeSeconds: number | null;
  optimizationsApplied: string[];
  quantizationUsed: string | null;
  offloadUsed: boolean;
  rootPid: number | null;
  stepsCompleted: number | null;
  stepsTotal: number | null;
  stepsPerSecond: number | null;
  progressUpdatedAt: number | null;
  progressIsPercent: boolean;
}

/** A run reporting more phases than this keeps its first ones (a phase per step is a misuse). */
const MAX_PHASES = 100;

function sumKnown(values: Iterable<number | null>): number | null {
  let total: number | null = null;
  for (const v of values) if (v !== null) total = (total ?? 0) + v;
  return total;
}

function meanKnown(values: Iterable<number | null>): number | null {
  let total = 0;
  let n = 0;
  for (const v of values) {
    if (v !== null) {
      total += v;
      n++;
    }
  }
  return n === 0 ? null : total / n;
}

function maxKnown(values: Iterable<number | null>): number | null {
  let best: number | null = null;
  for (const v of values) if (v !== null && (best === null || v > best)) best = v;
  return best;
}

export class TaskAccumulator {
  readonly taskId: string;
  readonly startTime: number;
  readonly description: TaskDescription;
  private readonly pinnedGpuIndices: number[] | null;
  private readonly adopted: boolean;
  private sampleCount = 0;

  private readonly deviceRamMb = new TimeWeightedSeries();
  private readonly deviceCpuPercent = new TimeWeightedSeries();
  private peakTemperatureCelsius: number | null = null;
  private ramTotalMb: number | null = null;
  private readonly gpus = new Map<number, GpuSeries>();
  /** GPUs on which the task's process tree was seen holding memory. */
  private readonly attributedGpus = new Set<number>();

  private readonly treeRssMb = new TimeWeightedSeries();
  private readonly treeCpuPercent = new TimeWeightedSeries();
  private readonly treeVramMb = new TimeWeightedSeries();
  private readonly timelineRecorder: TimelineRecorder;
  /** Set once the git lookup of the run's working directory answers (null: none found). */
  gitCommit: GitCommit | null = null;
  /** What comparable earlier runs predicted when it started; null when nothing could be predicted. */
  prediction: RunPrediction | null = null;
  /** The run's CUDA_VISIBLE_DEVICES (its own environment, or the CLI's); resolved against the GPUs once they are seen. */
  deviceEnvironment: DeviceEnvironment | null = null;
  private visibleGpus: number[] | null = null;

  // Evidence for a run's own VRAM when per-process figures are hidden (see toMetrics).
  /** Samples at which the tree's GPU memory could not be seen (hidden list, or listed as [N/A]). */
  private hiddenSamples = 0;
  /** The tree was listed on a GPU with unknown memory: it does use the GPU, so a zero rise is no evidence. */
  private treeListedWithoutMemory = false;
  /**
   * The list showed this machine's processes but none of the tree's while the devices' memory rose
   * beyond what the listed processes' own rise explains: the tree's 0 would be a false claim.
   */
  private treeZeroContradicted = false;
  /** The devices' memory and the listed processes' sum at the first shown list (the baseline of that check). */
  private firstListedVram: { deviceMb: number; listedMb: number } | null = null;
  /** Each GPU's memory at the task's first sample: the baseline of the device's rise. */
  private readonly baselineVramMb = new Map<number, number>();
  /** False once anything else may have changed the device's memory during the task. */
  private deviceDeltaTrusted: boolean;
  /** Hidden lists: the pids listed at the first sample, and pids that appeared since. */
  private firstHiddenPids: Set<number> | null = null;
  private readonly newHiddenPids = new Set<number>();
  /** Framework allocator peaks the Python helper reported, per sending process (MiB). */
  private readonly helperPeakByPid = new Map<number, number>();

  constructor(info: TaskStartInfo) {
    this.taskId = info.taskId;
    this.startTime = info.startTime;
    this.adopted = info.adopted === true;
    // An adopted run had its memory before the first sample: its rise since is not its figure.
    this.deviceDeltaTrusted = info.startedLate !== true && !this.adopted;
    this.pinnedGpuIndices = info.gpuIndices && info.gpuIndices.length > 0 ? [...info.gpuIndices] : null;
    this.timelineRecorder = new TimelineRecorder(info.startTime);
    this.description = {
      modelType: info.modelType,
      resolution: info.resolution,
      steps: info.steps,
      modelLoadTimeSeconds: null,
      optimizationsApplied: [...(info.optimizationsApplied ?? [])],
      quantizationUsed: info.quantizationUsed ?? null,
      offloadUsed: info.offloadUsed ?? false,
      rootPid: info.rootPid ?? null,
      stepsCompleted: null,
      stepsTotal: null,
      stepsPerSecond: null,
      progressUpdatedAt: null,
      progressIsPercent: false,
    };
  }

  private readonly phaseList: TaskPhase[] = [];

  /**
   * Starts phase `name` at `atMs` (clamped to the task's start), ending the open one there. False
   * when the task already holds MAX_PHASES phases. Re-marking the open phase changes nothing.
   */
  markPhase(name: string, atMs: number): boolean {
    const t = Math.max(atMs, this.startTime);
    const open = this.phaseList[this.phaseList.length - 1];
    if (open && open.endTime === null) {
      if (open.name === name) return true;
      open.endTime = Math.max(t, open.startTime);
    }
    if (this.phaseList.length >= MAX_PHASES) return false;
    this.phaseList.push({ name, startTime: Math.max(t, open?.endTime ?? t), endTime: null });
    return true;
  }

  /** Ends the open phase (only if it is `name`, when given). */
  endPhase(atMs: number, name?: string): void {
    const open = this.phaseList[this.phaseList.length - 1];
    if (!open || open.endTime !== null || (name !== undefined && open.name !== name)) return;
    open.endTime = Math.max(atMs, open.startTime);
  }

  get samples(): number {
    return this.sampleCount;
  }

  /** Adds one observation; its time is clamped into the task's life (start sample, end sample). */
  addSample(sample: TaskSample, endTime: number | null = null): void {
    let t = Math.max(sample.timestamp, this.startTime);
    if (endTime !== null) t = Math.min(t, endTime);
    this.sampleCount++;
    const snap = sample.snapshot;
    if (snap) {
      this.deviceRamMb.add(t, snap.ramUsageMb);
      this.deviceCpuPercent.add(t, snap.cpuUsagePercent);
      if (snap.ramTotalMb !== null) this.ramTotalMb = snap.ramTotalMb;
      if (this.deviceEnvironment !== null && this.visibleGpus === null) this.visibleGpus = visibleGpuIndices(this.deviceEnvironment, snap.gpus);
      for (const gpu of snap.gpus) {
        let series = this.gpus.get(gpu.index);
        if (!series) {
          series = { vramUsedMb: new TimeWeightedSeries(), utilizationPercent: new TimeWeightedSeries(), vramTotalMb: null, firstVramUsedMb: gpu.vramUsedMb };
          this.gpus.set(gpu.index, series);
        }
        series.vramUsedMb.add(t, gpu.vramUsedMb);
        if (gpu.vramUsedMb !== null && !this.baselineVramMb.has(gpu.index)) {
          // A GPU first seen after the first sample has no baseline from before the run.
          if (this.sampleCount === 1) this.baselineVramMb.set(gpu.index, gpu.vramUsedMb);
          else this.deviceDeltaTrusted = false;
        }
        series.utilizationPercent.add(t, gpu.utilizationPercent);
        if (gpu.vramTotalMb !== null) series.vramTotalMb = gpu.vramTotalMb;
        if (gpu.temperatureCelsius !== null && (this.peakTemperatureCelsius === null || gpu.temperatureCelsius > this.peakTemperatureCelsius)) {
          this.peakTemperatureCelsius = gpu.temperatureCelsius;
        }
      }
    }
    const tree = sample.tree;
    let ownVram: number | null = null;
    if (tree) {
      ownVram = this.treeVramShare(tree, sample.gpuProcesses, snap, sample.processesHidden === true);
      this.treeRssMb.add(t, tree.rssMb);
      this.treeCpuPercent.add(t, tree.cpuPercent);
      this.treeVramMb.add(t, ownVram);
      if (sample.processesHidden === true && sample.gpuProcesses !== null) this.watchHiddenPids(sample.gpuProcesses);
    } else if (this.description.rootPid !== null) {
      // The tree could not be read at this instant: a gap, not a zero.
      this.treeRssMb.add(t, null);
      this.treeCpuPercent.add(t, null);
      this.treeVramMb.add(t, null);
    }
    this.addTimelinePoint(t, snap, ownVram, tree);
  }

  /** The sample as one timeline point, over the GPUs the task is known to use so far. */
  private addTimelinePoint(t: number, snap: SystemPerformanceSnapshot | null, ownVram: number | null, tree: ProcessTreeReading | null): void {
    const indices = new Set(this.taskGpuIndices());
    const gpus = snap ? snap.gpus.filter((g) => indices.has(g.index)) : [];
    this.timelineRecorder.add({
      timeMs: t,
      gpuUtilizationPercent: meanKnown(gpus.map((g) => g.utilizationPercent)),
      deviceVramMb: sumKnown(gpus.map((g) => g.vramUsedMb)),
      ownVramMb: ownVram,
      cpuCores: tree && tree.cpuPercent !== null ? tree.cpuPercent / 100 : null,
      ramMb: tree ? tree.rssMb : (snap?.ramUsageMb ?? null),
      ...throttleOf(gpus),
    });
  }

  /**
   * The GPUs the task ran on: pinned ones; else those its processes held memory on; else those its
   * CUDA_VISIBLE_DEVICES names; else, on a machine with several GPUs, the one whose memory rose most during the run (by at least
   * VRAM_RISE_MIN_MB); else every GPU seen.
   */
  private taskGpuIndices(): number[] {
    if (this.pinnedGpuIndices) return [...this.pinnedGpuIndices];
    if (this.attributedGpus.size > 0) return [...this.attributedGpus];
    if (this.visibleGpus) return [...this.visibleGpus];
    if (this.gpus.size > 1) {
      let best: number | null = null;
      let bestRise = VRAM_RISE_MIN_MB;
      for (const [index, g] of this.gpus) {
        const peak = g.vramUsedMb.peak;
        if (peak === null || g.firstVramUsedMb === null) continue;
        const rise = peak - g.firstVramUsedMb;
        if (rise >= bestRise) {
          best = index;
          bestRise = rise;
        }
      }
      if (best !== null) return [best];
    }
    return [...this.gpus.keys()];
  }

  /**
   * The tree's GPU memory: the sum of what the GPU tool attributes to its pids; 0 when none of
   * them is listed and the list shows this machine's processes (the run uses no GPU); null when
   * unattributed, when the list hides this machine's processes (empty, or foreign pids only), or
   * when a pid of the tree is listed with unknown memory (WSL, MIG report `[N/A]`): a partial sum
   * would understate it, and a zero would be a false claim.
   */
  private treeVramShare(tree: ProcessTreeReading, processes: GpuProcessUsage[] | null, snap: SystemPerformanceSnapshot | null, hidden: boolean): number | null {
    if (processes === null) return null;
    const pids = new Set(tree.pids);
    pids.add(tree.rootPid);
    let total = 0;
    let listed = false;
    for (const p of processes) {
      if (!pids.has(p.pid)) continue;
      listed = true;
      if (p.usedMemoryMb === null) {
        this.treeListedWithoutMemory = true;
        this.hiddenSamples++;
        return null;
      }
      total += p.usedMemoryMb;
      if (p.usedMemoryMb > 0 && p.gpuUuid !== null && snap) {
        const gpu = snap.gpus.find((g) => g.uuid === p.gpuUuid);
        if (gpu) this.attributedGpus.add(gpu.index);
      }
    }
    if (!listed && hidden) {
      this.hiddenSamples++;
      return null;
    }
    if (!listed && this.riseUnexplained(processes, snap)) {
      // Not listed while memory it may hold appeared: unknown, and the rise is the evidence.
      this.treeZeroContradicted = true;
      this.hiddenSamples++;
      return null;
    }
    return total;
  }

  /**
   * Whether the devices' memory rose since the first shown list by more than the noise beyond the
   * listed processes' own rise (a process the tool does not list took it).
   */
  private riseUnexplained(processes: GpuProcessUsage[], snap: SystemPerformanceSnapshot | null): boolean {
    const deviceMb = snap ? sumKnown(snap.gpus.map((g) => g.vramUsedMb)) : null;
    if (deviceMb === null || processes.some((p) => p.usedMemoryMb === null)) return false;
    const listedMb = processes.reduce((sum, p) => sum + (p.usedMemoryMb ?? 0), 0);
    if (this.firstListedVram === null) {
      this.firstListedVram = { deviceMb, listedMb };
      return false;
    }
    // A listed process's own change is in the device's rise too: the rise is then not the run's alone.
    if (Math.abs(listedMb - this.firstListedVram.listedMb) > DEVICE_DELTA_NOISE_MB) this.deviceDeltaTrusted = false;
    return deviceMb - this.firstListedVram.deviceMb - (listedMb - this.firstListedVram.listedMb) > DEVICE_DELTA_NOISE_MB;
  }

  /**
   * In a hidden list (foreign pids) the run's own process appears as one new pid. More than one
   * new pid, or a pid of the first sample gone, means something else started or stopped on the
   * GPUs: the device's rise is then no longer the run's alone.
   */
  private watchHiddenPids(processes: GpuProcessUsage[]): void {
    const now = new Set(processes.map((p) => p.pid));
    if (this.firstHiddenPids === null) {
      this.firstHiddenPids = now;
      return;
    }
    for (const pid of now) if (!this.firstHiddenPids.has(pid)) this.newHiddenPids.add(pid);
    for (const pid of this.firstHiddenPids) if (!now.has(pid)) this.deviceDeltaTrusted = false;
    if (this.newHiddenPids.size > 1) this.deviceDeltaTrusted = false;
  }

  /** Another task started on this machine while this one ran: the device's rise is shared. */
  markDeviceShared(): void {
    this.deviceDeltaTrusted = false;
  }

  /**
   * The framework allocator's peak the Python helper read in process `pid` (for example
   * `torch.cuda.max_memory_reserved()`); a process's figure only grows. Per process, summed over
   * processes (one per GPU in a multi-process run).
   */
  addHelperVram(pid: number, peakMb: number): void {
    if (!Number.isFinite(peakMb) || peakMb < 0) return;
    this.helperPeakByPid.set(pid, Math.max(peakMb, this.helperPeakByPid.get(pid) ?? 0));
  }

  /**
   * The device's rise over the task, on the GPUs that rose (or the pinned ones), or null when it
   * is no evidence: no baseline from before the run, something else changed the device's memory,
   * or the tree is known to be on a GPU while nothing rose.
   */
  private deviceDelta(candidates: number[]): { peakMb: number; averageMb: number; gpuIndices: number[] } | null {
    if (!this.deviceDeltaTrusted) return null;
    let peakMb = 0;
    let averageMb = 0;
    const risen: number[] = [];
    for (const index of candidates) {
      const base = this.baselineVramMb.get(index);
      const series = this.gpus.get(index);
      const peak = series?.vramUsedMb.peak ?? null;
      const average = series?.vramUsedMb.average ?? null;
      if (base === undefined || peak === null || average === null) return null;
      if (this.pinnedGpuIndices === null && peak - base <= DEVICE_DELTA_NOISE_MB) continue;
      risen.push(index);
      peakMb += Math.max(0, peak - base);
      averageMb += Math.max(0, average - base);
    }
    if (candidates.length === 0) return null;
    if (risen.length === 0 && this.treeListedWithoutMemory) return null;
    return { peakMb, averageMb, gpuIndices: risen.length > 0 ? risen : candidates };
  }

  /** The task's figures so far (status running), or final when given an end. */
  toMetrics(end?: { endTime: number; status: Exclude<TaskStatus, 'running'>; success: boolean; errorCategory: string | null; keepDuration?: boolean }): PerformanceMetrics {
    const d = this.description;
    // A zero the devices' unexplained rise contradicts is no figure; a real listed figure stays one.
    const treeVramPeak = this.treeZeroContradicted && this.treeVramMb.peak === 0 ? null : this.treeVramMb.peak;
    const treeKnownVram = this.treeVramMb.known && treeVramPeak !== null;
    const helperPeak = sumKnown(this.helperPeakByPid.values());
    const seen = [...this.gpus.keys()].sort((a, b) => a - b);
    // Best evidence first: the tree's own figures, the helper's in-process peak, the device's rise
    // while per-process figures were hidden, else the device's figures named as such.
    const delta = !treeKnownVram && helperPeak === null && this.hiddenSamples > 0 ? this.deviceDelta(this.pinnedGpuIndices ?? this.visibleGpus ?? seen) : null;
    // Pinned or attributed GPUs first; else the GPUs whose rise is the evidence; else the one whose memory rose most.
    const gpuIndices = delta && this.pinnedGpuIndices === null && this.attributedGpus.size === 0 ? [...delta.gpuIndices] : this.taskGpuIndices();
    gpuIndices.sort((a, b) => a - b);
    const chosen = gpuIndices.map((i) => this.gpus.get(i)).filter((g): g is GpuSeries => g !== undefined);
    // For one GPU the peak is exact; over several it is the sum of per-GPU peaks (an upper bound).
    const devicePeakVram = sumKnown(chosen.map((g) => g.vramUsedMb.peak));
    const deviceAvgVram = sumKnown(chosen.map((g) => g.vramUsedMb.average));
    const treeKnownRam = this.treeRssMb.known;
    const treeKnownCpu = this.treeCpuPercent.known;
    const ramScope: FigureScope | null = treeKnownRam ? 'processTree' : this.deviceRamMb.known ? 'device' : null;
    const cpuScope: FigureScope | null = treeKnownCpu ? 'processTree' : this.deviceCpuPercent.known ? 'device' : null;
    let vramScope: VramScope | null = devicePeakVram !== null ? 'device' : null;
    let peakVram = devicePeakVram;
    let averageVram = deviceAvgVram;
    if (treeKnownVram) [vramScope, peakVram, averageVram] = ['processTree', this.treeVramMb.peak, this.treeVramMb.average];
    // The helper reports peaks only: the average stays unknown rather than borrowed from elsewhere.
    else if (helperPeak !== null) [vramScope, peakVram, averageVram] = ['helper', helperPeak, null];
    else if (delta) [vramScope, peakVram, averageVram] = ['deviceDelta', delta.peakMb, delta.averageMb];
    const status: TaskStatus = end ? end.status : 'running';
    const generationTimeSeconds = end && end.keepDuration !== false ? (end.endTime - this.startTime) / 1000 : null;
    return {
      taskId: this.taskId,
      modelType: d.modelType,
      resolution: d.resolution,
      resolutionClass: normalizeResolution(d.resolution),
      steps: d.steps,
      status,
      startTime: this.startTime,
      endTime: end ? end.endTime : null,
      generationTimeSeconds,
      modelLoadTimeSeconds: d.modelLoadTimeSeconds,
      peakVramUsageMb: peakVram,
      averageVramUsageMb: averageVram,
      peakRamUsageMb: treeKnownRam ? this.treeRssMb.peak : this.deviceRamMb.peak,
      averageCpuUsagePercent: treeKnownCpu ? this.treeCpuPercent.average : this.deviceCpuPercent.average,
      vramScope,
      ramScope,
      cpuScope,
      gpuIndices,
      vramTotalMb: sumKnown(chosen.map((g) => g.vramTotalMb)),
      ramTotalMb: this.ramTotalMb,
      averageGpuUtilizationPercent: meanKnown(chosen.map((g) => g.utilizationPercent.average)),
      peakGpuUtilizationPercent: maxKnown(chosen.map((g) => g.utilizationPercent.peak)),
      devicePeakVramUsageMb: devicePeakVram,
      deviceAverageVramUsageMb: deviceAvgVram,
      devicePeakRamUsageMb: this.deviceRamMb.peak,
      deviceAverageRamUsageMb: this.deviceRamMb.average,
      deviceAverageCpuUsagePercent: this.deviceCpuPercent.average,
      peakTemperatureCelsius: this.peakTemperatureCelsius,
      processTreePeakRamUsageMb: this.treeRssMb.peak,
      processTreeAverageRamUsageMb: this.treeRssMb.average,
      processTreeAverageCpuUsagePercent: this.treeCpuPercent.average,
      processTreePeakVramUsageMb: treeVramPeak,
      processTreeAverageVramUsageMb: treeVramPeak === null ? null : this.treeVramMb.average,
      rootPid: d.rootPid,
      sampleCount: this.sampleCount,
      optimizationsApplied: [...d.optimizationsApplied],
      quantizationUsed: d.quantizationUsed,
      offloadUsed: d.offloadUsed,
      success: end ? end.success : false,
      errorCategory: end ? end.errorCategory : null,
      stepsCompleted: d.stepsCompleted,
      stepsTotal: d.stepsTotal,
      stepsPerSecond: d.stepsPerSecond,
      progressUpdatedAt: d.progressUpdatedAt,
      ...(d.progressIsPercent ? { progressIsPercent: true } : {}),
      // A phase still open at the end closes with the task.
      phases: this.phaseList.map((p) => ({ ...p, endTime: p.endTime ?? (end ? Math.max(end.endTime, p.startTime) : null) })),
      ...(this.adopted ? { adopted: true } : {}),
      timeline: this.timelineRecorder.toTimeline(),
      gitCommit: this.gitCommit,
      prediction: this.prediction,
    };
  }
}
