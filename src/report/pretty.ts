import type { EngineEvent } from '../engine/events.js';
import type { RunReport, StepResult } from '../engine/step-result.js';
import { formatDuration } from '../time/duration.js';
import { colors, type Colors } from './colors.js';
import { ProgressTicker, progressText } from './progress.js';
import type { Reporter } from './reporter.js';
import { truthfulVerdicts, verdictLine } from './verdicts.js';

// Human output on stderr: one line per step as it ends, a live line for the running step on
// a TTY (elapsed vs budget, bytes moved and rate), a progress line every so often off a TTY
// (CI logs are never silent), and a summary with the RTO verdict.

export interface PrettyOptions {
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  color: boolean;
  live: boolean;
  /** Off a TTY: how often a running step prints a progress line. */
  progressIntervalMs?: number;
}

const SYMBOL: Record<StepResult['status'], string> = { succeeded: '✔', failed: '✖', skipped: '–', canceled: '■' };

export class PrettyReporter implements Reporter {
  private live?: { id: string; started: number; budgetMs?: number; detail: string; timer: NodeJS.Timeout };
  private width = 12;
  private readonly c: Colors;
  private readonly ticker?: ProgressTicker;

  constructor(private readonly o: PrettyOptions) {
    this.c = colors(o.color);
    if (!o.live) this.ticker = new ProgressTicker(o.progressIntervalMs, (t) => this.write(`    ${this.c.dim(`… ${t.id.padEnd(this.width)}  ${t.text}`)}`));
  }

  private write(line: string): void {
    this.clearLive();
    this.o.out.write(`${line}\n`);
  }

  onEvent(e: EngineEvent): void {
    this.ticker?.onEvent(e);
    switch (e.type) {
      case 'run.start':
        this.width = Math.max(8, ...e.steps.map((s) => s.id.length));
        this.write(
          `${this.c.bold(`▶ ${e.runbook}`)} run ${e.runId}${e.rtoMs !== undefined ? `  (RTO ${formatDuration(e.rtoMs)})` : ''}`,
        );
        return;
      case 'step.start':
        if (e.attempt === 1) this.write(`  ${this.c.dim('·')} ${e.id.padEnd(this.width)}  ${this.c.dim(e.description)}`);
        this.startLive(e.id, e.budgetMs);
        return;
      case 'step.progress':
        if (this.live?.id === e.id) this.live.detail = progressText(e.progress, e.elapsedMs);
        return;
      case 'step.log':
        this.write(`    ${this.c.dim(e.message)}`);
        return;
      case 'step.retry':
        this.write(`  ${this.c.yellow('↻')} ${e.id.padEnd(this.width)}  try ${e.attempt} failed: ${e.error}; retrying in ${formatDuration(e.waitMs)}`);
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
    const paint = r.status === 'succeeded' ? this.c.green : r.status === 'skipped' ? this.c.dim : this.c.red;
    let line = `  ${paint(SYMBOL[r.status])} ${r.id.padEnd(this.width)}  `;
    if (r.status === 'skipped') return line + this.c.dim(r.reason ?? 'skipped');
    line += formatDuration(r.durationMs);
    if (r.budgetMs !== undefined) {
      const b = ` / budget ${formatDuration(r.budgetMs)}`;
      line += r.overBudget ? this.c.yellow(`${b} OVER by ${formatDuration(r.durationMs - r.budgetMs)}`) : this.c.dim(b);
    }
    if (r.attempts > 1) line += this.c.dim(` (${r.attempts} tries)`);
    if (error) line += `  ${this.c.red(error)}`;
    if (!r.critical && r.status === 'failed') line += this.c.dim(' (not critical)');
    return line;
  }

  private summary(r: RunReport): string {
    const paint = r.status === 'succeeded' && r.verdicts.every((v) => v.met) ? this.c.green : this.c.red;
    const lines = [`${paint(r.status.toUpperCase())} ${r.runbook} in ${formatDuration(r.durationMs)}`];
    for (const s of r.steps) {
      if (s.status === 'failed' && s.critical) lines.push(this.c.red(`  ${s.id} failed: ${s.reason ?? ''}`));
    }
    for (const v of truthfulVerdicts(r)) lines.push(`  ${(v.met ? this.c.green : this.c.red)(verdictLine(v))}`);
    const over = r.steps.filter((s) => s.overBudget && !s.budgetEnforced);
    for (const s of over) lines.push(this.c.yellow(`  over budget: ${s.id} took ${formatDuration(s.durationMs)} (budget ${formatDuration(s.budgetMs ?? 0)})`));
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
    this.ticker?.close();
    this.stopLive();
  }
}

