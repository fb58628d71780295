import type { Progress } from '../adapters/types.js';
import type { EngineEvent } from '../engine/events.js';
import { UsageError } from '../errors.js';
import { formatBytes } from '../format.js';
import { formatDuration, tryParseDuration } from '../time/duration.js';

// Off a TTY there is no live line, so a long step would leave a CI log silent for as long as a
// restore takes. The ticker gives each running step a line every interval: elapsed time, and
// bytes, rate and an estimate where the adapter reports them.

/** How often a running step reports, unless DRCTL_PROGRESS_INTERVAL (a duration) says otherwise. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 10_000;

/** The interval DRCTL_PROGRESS_INTERVAL asks for (e.g. 30s; 0 turns the lines off), else the default. */
export function progressInterval(env: Readonly<Record<string, string | undefined>>): number {
  const v = env.DRCTL_PROGRESS_INTERVAL;
  if (v === undefined || v.trim() === '') return DEFAULT_PROGRESS_INTERVAL_MS;
  const ms = /^\d+$/.test(v.trim()) ? Number(v) * 1000 : tryParseDuration(v);
  if (ms === undefined || ms < 0) throw new UsageError('usage.env', `DRCTL_PROGRESS_INTERVAL=${v}: expected a duration such as 10s or 1m (0: no progress lines)`);
  return ms;
}

export interface ProgressTick {
  id: string;
  elapsedMs: number;
  bytes?: number;
  total?: number;
  bytesPerSecond?: number;
  etaMs?: number;
  /** "running 20.0s: 1.2 GB of 3.0 GB at 85.0 MB/s, ~21.0s left" */
  text: string;
}

interface Running {
  started: number;
  last?: Progress;
  timer: NodeJS.Timeout;
}

/** Calls `tick` for every running step every `intervalMs` (0: never). */
export class ProgressTicker {
  private readonly running = new Map<string, Running>();

  constructor(
    private readonly intervalMs: number = DEFAULT_PROGRESS_INTERVAL_MS,
    private readonly tick: (t: ProgressTick) => void,
  ) {}

  onEvent(e: EngineEvent): void {
    if (this.intervalMs <= 0) return;
    switch (e.type) {
      case 'step.start': {
        // A retry restarts the step but not its clock: the log shows how long it has been going.
        if (this.running.has(e.id)) return;
        const timer = setInterval(() => this.fire(e.id), this.intervalMs);
        // A step's own work keeps the process alive; a progress line must not.
        timer.unref();
        this.running.set(e.id, { started: performance.now(), timer });
        return;
      }
      case 'step.progress': {
        const r = this.running.get(e.id);
        if (r) r.last = e.progress;
        return;
      }
      case 'step.end':
        this.stop(e.result.id);
        return;
      case 'run.end':
        this.close();
    }
  }

  close(): void {
    for (const id of [...this.running.keys()]) this.stop(id);
  }

  private stop(id: string): void {
    const r = this.running.get(id);
    if (!r) return;
    clearInterval(r.timer);
    this.running.delete(id);
  }

  private fire(id: string): void {
    const r = this.running.get(id);
    if (!r) return;
    const elapsedMs = performance.now() - r.started;
    const p = r.last ?? {};
    const t: ProgressTick = { id, elapsedMs, text: `running ${formatDuration(elapsedMs)}` };
    if (p.bytes !== undefined) {
      t.bytes = p.bytes;
      t.total = p.total;
      t.bytesPerSecond = elapsedMs > 0 ? Math.round((p.bytes / elapsedMs) * 1000) : 0;
      if (p.total && t.bytesPerSecond > 0 && p.total > p.bytes) t.etaMs = Math.round(((p.total - p.bytes) / t.bytesPerSecond) * 1000);
    }
    const detail = progressText(p, elapsedMs);
    if (detail) t.text += `: ${detail}`;
    this.tick(t);
  }
}

/** "1.2 GB at 85 MB/s, ~40s left" from a progress event. */
export function progressText(p: { bytes?: number; total?: number; message?: string }, elapsedMs: number): string {
  if (p.bytes === undefined) return p.message ?? '';
  const rate = elapsedMs > 0 ? (p.bytes / elapsedMs) * 1000 : 0;
  let s = `${formatBytes(p.bytes)}${p.total ? ` of ${formatBytes(p.total)}` : ''} at ${formatBytes(rate)}/s`;
  if (p.total && rate > 0 && p.total > p.bytes) s += `, ~${formatDuration(((p.total - p.bytes) / rate) * 1000)} left`;
  return s;
}
