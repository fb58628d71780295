import type { Step } from '../runbook/schema.js';
import type { Emit } from './events.js';
import type { Scope } from './scope.js';
import { skippedResult, type Section, type StepRun } from './step.js';
import type { RunStatus, StepResult } from './step-result.js';

// The state of a run as its steps end: every result goes through record(), which decides
// what the run does next (halt, jump to an onFailure step, carry on).

type Halt = { why: 'failed' | 'declined' | 'interrupted'; step: string };

export class RunState {
  readonly results: StepResult[] = [];
  halted: Halt | undefined;
  failed = false;
  /** Set by a step whose onFailure names another step: everything until that one is skipped. */
  jumpTo: string | undefined;
  interruptedStep: string | undefined;
  /** A critical step failed on bad input (a bad URL, an unknown backup id): the run exits 2. */
  usageFailure = false;

  constructor(
    private readonly scope: Scope,
    private readonly emit: Emit,
  ) {}

  /** A step that ran (or was skipped by its `if`). */
  record(step: Step, section: Section, run: StepRun): void {
    const { result, outcome } = run;
    this.results.push(result);
    this.scope.steps.set(step.id, { status: result.status, outputs: result.outputs, durationMs: result.durationMs, attempts: result.attempts, error: result.reason });
    // Bad input decides the exit code only in the run's own steps: a misconfigured pager in
    // `finally` must not turn a failed verification (exit 1) into "bad input" (exit 2).
    if (run.badInput && step.critical && section !== 'finally') this.usageFailure = true;
    if (section === 'finally') {
      // Finally steps never halt or jump: they all run.
      if (outcome === 'failed' && step.critical) this.failed = true;
      if (outcome === 'interrupted' && !this.halted) this.halted = { why: 'interrupted', step: step.id };
      // A cleanup that needed a confirmation it could not get (no TTY, no --yes) did not run.
      if (outcome === 'declined' && !this.halted && !this.failed) this.halted = { why: 'declined', step: step.id };
      this.scope.status = this.status();
      return;
    }
    if (outcome === 'interrupted') {
      this.halted ??= { why: 'interrupted', step: step.id };
      this.interruptedStep ??= step.id;
    } else if (outcome === 'declined') this.halted ??= { why: 'declined', step: step.id };
    else if (outcome === 'failed') {
      if (!step.critical) return;
      this.failed = true;
      if (step.onFailure === 'abort') this.halted ??= { why: 'failed', step: step.id };
      else if (step.onFailure !== 'continue') this.jumpTo = step.onFailure;
    }
  }

  /** A main step that does not run; `earlier` carries its outputs over from a resumed run. */
  skip(step: Step, reason: string, earlier?: StepResult): void {
    const result = { ...skippedResult(step, 'steps', reason), outputs: earlier?.outputs ?? {} };
    this.results.push(result);
    this.scope.steps.set(step.id, earlier ? { status: 'succeeded', outputs: earlier.outputs, durationMs: earlier.durationMs, attempts: earlier.attempts } : { status: 'skipped', outputs: {}, durationMs: 0, attempts: 0, error: reason });
    this.emit({ type: 'step.end', result });
  }

  /** Why a main step does not run now, if it does not. */
  skipReason(step: Step): string | undefined {
    let skip: string | undefined;
    if (this.halted) skip = this.halted.why === 'failed' ? `not run: step "${this.halted.step}" failed` : `not run: ${this.halted.why}`;
    else if (this.jumpTo !== undefined && step.id !== this.jumpTo) skip = `skipped: onFailure jumped to "${this.jumpTo}"`;
    if (step.id === this.jumpTo) this.jumpTo = undefined;
    return skip;
  }

  status(): RunStatus {
    const why = this.halted?.why;
    if (why === 'interrupted') return 'interrupted';
    if (why === 'declined') return 'declined';
    return this.failed || why === 'failed' ? 'failed' : 'succeeded';
  }
}

/** Consecutive steps marked `parallel: true` form one batch; every other step is a batch of one. */
export function* batches(steps: readonly Step[]): Generator<Step[]> {
  for (let i = 0; i < steps.length; ) {
    const batch: Step[] = [steps[i]!];
    if (steps[i]!.parallel) while (steps[i + batch.length]?.parallel) batch.push(steps[i + batch.length]!);
    i += batch.length;
    yield batch;
  }
}
