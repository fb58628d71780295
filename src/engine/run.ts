import { randomBytes } from 'node:crypto';
import type { Registry } from '../adapters/registry.js';
import type { ActionContext, Progress } from '../adapters/types.js';
import { ExitCode } from '../errors.js';
import { secrets } from '../redact.js';
import type { Runbook, Step } from '../runbook/schema.js';
import { tryParseDuration } from '../time/duration.js';
import type { Emit, EngineEvent } from './events.js';
import { measure, verdicts } from './objectives.js';
import { batches, RunState } from './run-state.js';
import { Scope } from './scope.js';
import { runStep, skippedResult, type StepEnv } from './step.js';
import type { RunReport, StepResult } from './step-result.js';

// Runs a validated runbook: batches of steps in order (parallel ones together), finally steps
// that always run, then the report with budgets and the RTO/RPO verdicts. Composed like act's
// executors: attempt.ts (one try under a timeout) inside step.ts (if, retries with backoff →
// one StepResult) inside this loop, with run-state.ts recording each result. It knows actions
// only through the registry.

export interface EngineOptions {
  runbook: Runbook;
  file: string;
  registry: Registry;
  inputs: Record<string, unknown>;
  env: Readonly<Record<string, string | undefined>>;
  config: Readonly<Record<string, unknown>>;
  stateDir: string;
  emit: Emit;
  /** Aborted on the first SIGINT/SIGTERM: the running step is stopped. */
  signal: AbortSignal;
  /** Aborted on the second one: finally steps are stopped too. */
  forceSignal?: AbortSignal;
  confirm: (message: string) => Promise<boolean>;
  fromStep?: string;
  /** With fromStep: the results of an earlier run, so later steps can use earlier outputs. */
  /**
   * The run --from-step resumes: its steps' outputs, and when its disaster happened (its
   * measured disasterAt). The recovery began then, not when the resumed run started.
   */
  resumeFrom?: { runId: string; steps: StepResult[]; disasterAt?: string };
  kind?: 'run' | 'drill';
  runId?: string;
  /** When the run started (epoch ms; default now): the instant relative input times were resolved against. */
  startedAt?: number;
}

const PROGRESS_EVERY_MS = 500;

/** A sortable run id: 20261123T094100Z-3fa2. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
}

export async function runRunbook(opts: EngineOptions): Promise<RunReport> {
  const rb = opts.runbook;
  const startedAt = opts.startedAt ?? Date.now();
  const runId = opts.runId ?? newRunId(new Date(startedAt));
  const scope = new Scope(opts.env, opts.inputs, { id: runId, name: rb.name, startedAt });
  const emit: Emit = (e) => opts.emit(secrets.redactDeep(e) as EngineEvent);
  const rtoMs = rb.targets?.rto === undefined ? undefined : tryParseDuration(rb.targets.rto);

  emit({
    type: 'run.start',
    runId,
    runbook: rb.name,
    file: opts.file,
    startedAt: new Date(startedAt).toISOString(),
    rtoMs,
    steps: [...rb.steps, ...rb.finally].map((s) => ({ id: s.id, uses: s.uses })),
  });

  const state = new RunState(scope, emit);
  const stepEnv: StepEnv = { action: (uses) => opts.registry.get(uses), scope, emit, context };
  let reachedFrom = opts.fromStep === undefined;

  for (const batch of batches(rb.steps)) {
    const toRun: Step[] = [];
    for (const step of batch) {
      if (!reachedFrom && step.id === opts.fromStep) reachedFrom = true;
      const blocked = state.skipReason(step);
      const earlier = !reachedFrom ? opts.resumeFrom?.steps.find((r) => r.id === step.id && r.status === 'succeeded') : undefined;
      const skip = earlier ? `before --from-step ${opts.fromStep}; outputs from run ${opts.resumeFrom?.runId}` : !reachedFrom ? `before --from-step ${opts.fromStep}` : blocked;
      if (skip) state.skip(step, skip, earlier);
      else toRun.push(step);
    }
    const done = await Promise.all(toRun.map((step) => runStep(stepEnv, step, 'steps', opts.signal)));
    toRun.forEach((step, k) => state.record(step, 'steps', done[k]!));
  }

  scope.status = state.status();
  const finallySignal = opts.forceSignal ?? new AbortController().signal;
  for (const step of rb.finally) {
    if (finallySignal.aborted) {
      state.results.push(skippedResult(step, 'finally', 'not run: forced exit'));
      continue;
    }
    state.record(step, 'finally', await runStep(stepEnv, step, 'finally', finallySignal));
  }

  const endedAt = Date.now();
  const status = state.status();
  const rpoMs = rb.targets?.rpo === undefined ? undefined : tryParseDuration(rb.targets.rpo);
  // A resumed recovery is timed from the disaster the first run saw, not from the resume: an RTO
  // measured from the resume would leave out everything before it.
  const earlier = opts.fromStep !== undefined && opts.resumeFrom?.disasterAt ? Date.parse(opts.resumeFrom.disasterAt) : Number.NaN;
  const measured = measure(Number.isNaN(earlier) ? startedAt : earlier, endedAt, state.results, status);
  const v = verdicts({ rtoMs, rpoMs }, measured, state.results);
  const exitCode =
    status === 'interrupted' ? ExitCode.interrupted
    : status === 'declined' ? ExitCode.declined
    : status === 'failed' ? (state.usageFailure ? ExitCode.usage : ExitCode.failed)
    : v.some((x) => !x.met) ? ExitCode.targetMissed
    : ExitCode.ok;
  const report: RunReport = secrets.redactDeep({
    runId,
    runbook: rb.name,
    file: opts.file,
    description: rb.description,
    kind: opts.kind ?? 'run',
    dryRun: false,
    status,
    startedAt: new Date(startedAt).toISOString(),
    endedAt: new Date(endedAt).toISOString(),
    durationMs: endedAt - startedAt,
    inputs: opts.inputs,
    targets: { rtoMs, rpoMs },
    measured: {
      recovered: measured.recovered,
      disasterAt: new Date(measured.disasterAt).toISOString(),
      recoveredAt: measured.recoveredAt === undefined ? undefined : new Date(measured.recoveredAt).toISOString(),
      rtoMs: measured.rtoMs,
      rpoMs: measured.rpoMs,
      recoveryPoint: measured.recoveryPoint,
    },
    verdicts: v,
    steps: state.results,
    interruptedStep: state.interruptedStep,
    exitCode,
  });
  emit({ type: 'run.end', report });
  return report;

  function context(stepId: string, signal: AbortSignal, t0: number, stepTimeoutMs?: number): ActionContext {
    let lastProgress = 0;
    return {
      signal,
      stepTimeoutMs,
      runId,
      stepId,
      kind: opts.kind ?? 'run',
      env: opts.env,
      config: opts.config,
      stateDir: opts.stateDir,
      runStartedAt: new Date(startedAt),
      log: (message) => emit({ type: 'step.log', id: stepId, message }),
      progress: (p: Progress) => {
        const now = performance.now();
        if (now - lastProgress < PROGRESS_EVERY_MS) return;
        lastProgress = now;
        emit({ type: 'step.progress', id: stepId, progress: p, elapsedMs: Math.round(now - t0) });
      },
      confirm: opts.confirm,
      secret: (v) => secrets.add(v),
      backupKinds: opts.registry.kinds,
    };
  }
}
