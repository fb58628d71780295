import type { EngineEvent } from '../engine/events.js';
import type { RunReport, StepResult } from '../engine/step-result.js';
import { formatDuration } from '../time/duration.js';
import type { Reporter } from './reporter.js';
import { truthfulVerdicts, verdictLine } from './verdicts.js';

// Human output on stderr: one line per step as it ends, a live line for the running step on
// a TTY (elapsed vs budget, bytes moved and rate), and a summary with the RTO verdict.

export interface PrettyOptions {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  color: boolean;
  live: boolean;
}

const SYMBOL: Record<StepResult['status'], string> = { succeeded: '✔', failed: '✖', skipped: '–', canceled: '■' };

export class PrettyReporter implements Reporter {
  private live?: { id: string; started: number; budgetMs?: number; detail: string; timer: NodeJS.Timeout };
  private width = 12;

  constructor(private readonly o: PrettyOptions) {}

  private paint(code: number, s: string): string {
    return this.o.color ? `\x1b[${code}m${s}\x1b[0m` : s;
  }

  private write(line: string): void {
    this.clearLive();
    this.o.out.write(`${line}\n`);
  }

  onEvent(e: EngineEvent): void {
    switch (e.type) {
      case 'run.start':
        this.width = Math.max(8, ...e.steps.map((s) => s.id.length));
        this.write(
          `${this.paint(1, `▶ ${e.runbook}`)} run ${e.runId}${e.rtoMs !== undefined ? `  (RTO ${formatDuration(e.rtoMs)})` : ''}`,
        );
        return;
      case 'step.start':
        if (e.attempt === 1) this.write(`  ${this.paint(2, '·')} ${e.id.padEnd(this.width)}  ${this.paint(2, e.description)}`);
        this.startLive(e.id, e.budgetMs);
        return;
      case 'step.progress':
        if (this.live?.id === e.id) this.live.detail = progressText(e.progress, e.elapsedMs);
        return;
      case 'step.log':
        this.write(`    ${this.paint(2, e.message)}`);
        return;
      case 'step.retry':
        this.write(`  ${this.paint(33, '↻')} ${e.id.padEnd(this.width)}  try ${e.attempt} failed: ${e.error}; retrying in ${formatDuration(e.waitMs)}`);
        return;
      case 'step.end':
        this.stopLive();
        this.write(this.stepLine(e.result, e.error));
        return;
      case 'run.end':
        this.stopLive();
        this.write(this.summary(e.report));
        return;
    }
  }

  private stepLine(r: StepResult, error?: string): string {
    const color = r.status === 'succeeded' ? 32 : r.status === 'skipped' ? 2 : 31;
    let line = `  ${this.paint(color, SYMBOL[r.status])} ${r.id.padEnd(this.width)}  `;
    if (r.status === 'skipped') return line + this.paint(2, r.reason ?? 'skipped');
    line += formatDuration(r.durationMs);
    if (r.budgetMs !== undefined) {
      const b = ` / budget ${formatDuration(r.budgetMs)}`;
      line += r.overBudget ? this.paint(33, `${b} OVER by ${formatDuration(r.durationMs - r.budgetMs)}`) : this.paint(2, b);
    }
    if (r.attempts > 1) line += this.paint(2, ` (${r.attempts} tries)`);
    if (error) line += `  ${this.paint(31, error)}`;
    if (!r.critical && r.status === 'failed') line += this.paint(2, ' (not critical)');
    return line;
  }

  private summary(r: RunReport): string {
    const color = r.status === 'succeeded' && r.verdicts.every((v) => v.met) ? 32 : 31;
    const lines = [`${this.paint(color, `${r.status.toUpperCase()}`)} ${r.runbook} in ${formatDuration(r.durationMs)}`];
    for (const s of r.steps) {
      if (s.status === 'failed' && s.critical) lines.push(this.paint(31, `  ${s.id} failed: ${s.reason ?? ''}`));
    }
    for (const v of truthfulVerdicts(r)) lines.push(`  ${this.paint(v.met ? 32 : 31, verdictLine(v))}`);
    const over = r.steps.filter((s) => s.overBudget && !s.budgetEnforced);
    for (const s of over) lines.push(this.paint(33, `  over budget: ${s.id} took ${formatDuration(s.durationMs)} (budget ${formatDuration(s.budgetMs ?? 0)})`));
    if (r.interruptedStep) lines.push(`  interrupted during step "${r.interruptedStep}"`);
    return lines.join('\n');
  }

  private startLive(id: string, budgetMs?: number): void {
    if (!this.o.live) return;
    this.stopLive();
    const timer = setInterval(() => this.drawLive(), 1000);
    timer.unref();
    this.live = { id, started: performance.now(), budgetMs, detail: '', timer };
  }

  private drawLive(): void {
    if (!this.live) return;
    const el = performance.now() - this.live.started;
    const budget = this.live.budgetMs !== undefined ? ` / budget ${formatDuration(this.live.budgetMs)}` : '';
    const text = `  ⧗ ${this.live.id.padEnd(this.width)}  ${formatDuration(el)}${budget}  ${this.live.detail}`;
    const cols = this.o.out.columns ?? 100;
    this.o.out.write(`\r\x1b[K${text.slice(0, cols - 1)}`);
  }

  private clearLive(): void {
    if (this.o.live && this.live) this.o.out.write('\r\x1b[K');
  }

  private stopLive(): void {
    if (!this.live) return;
    clearInterval(this.live.timer);
    this.clearLive();
    this.live = undefined;
  }

  async close(): Promise<void> {
    this.stopLive();
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

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
