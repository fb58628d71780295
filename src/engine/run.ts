import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZodError } from 'zod';
import type { Registry } from '../adapters/registry.js';
import type { ActionContext, Outputs, Progress } from '../adapters/types.js';
import { ConfirmationError, DrctlError, errorMessage, ExitCode } from '../errors.js';
import { secrets } from '../redact.js';
import { truthy, evaluate, parseExpression } from '../runbook/expression.js';
import type { Runbook, Step } from '../runbook/schema.js';
import { isTemplate, renderDeep, renderString } from '../runbook/template.js';
import { formatDuration, tryParseDuration } from '../time/duration.js';
import type { Emit, EngineEvent } from './events.js';
import { measure, verdicts } from './objectives.js';
import { stepLimits } from './plan.js';
import { Scope } from './scope.js';
import type { RunReport, RunStatus, StepResult } from './step-result.js';

// Runs a validated runbook: steps in order, `if`, timeouts through one AbortSignal, retries
// with backoff, onFailure, finally steps that always run, budgets and the RTO verdict.
// It knows actions only through the registry.

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
  resumeFrom?: { runId: string; steps: StepResult[] };
  kind?: 'run' | 'drill';
  runId?: string;
  /** When the run started (epoch ms; default now): the instant relative input times were resolved against. */
  startedAt?: number;
}

const TIMEOUT = Symbol('timeout');
const SETTLE_GRACE_MS = 5000;
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
  const results: StepResult[] = [];
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

  let halted: undefined | { why: 'failed' | 'declined' | 'interrupted'; step: string };
  let failed = false;
  let jumpTo: string | undefined;
  let reachedFrom = opts.fromStep === undefined;
  let interruptedStep: string | undefined;
  // A step that failed on bad input (a bad URL, an unknown backup id) makes the run exit 2.
  let usageFailure = false;

  // Consecutive steps marked `parallel: true` run together as one batch.
  for (let i = 0; i < rb.steps.length; ) {
    const batch: Step[] = [rb.steps[i]!];
    if (rb.steps[i]!.parallel) while (rb.steps[i + batch.length]?.parallel) batch.push(rb.steps[i + batch.length]!);
    i += batch.length;
    const toRun: Step[] = [];
    for (const step of batch) {
      if (!reachedFrom && step.id === opts.fromStep) reachedFrom = true;
      let skip: string | undefined;
      if (!reachedFrom) skip = `before --from-step ${opts.fromStep}`;
      else if (halted) skip = halted.why === 'failed' ? `not run: step "${halted.step}" failed` : `not run: ${halted.why}`;
      else if (jumpTo !== undefined && step.id !== jumpTo) skip = `skipped: onFailure jumped to "${jumpTo}"`;
      if (step.id === jumpTo) jumpTo = undefined;
      const earlier = !reachedFrom ? opts.resumeFrom?.steps.find((r) => r.id === step.id && r.status === 'succeeded') : undefined;
      if (earlier) skip = `before --from-step ${opts.fromStep}; outputs from run ${opts.resumeFrom?.runId}`;
      if (skip) {
        results.push({ ...skipped(step, 'steps', skip), outputs: earlier?.outputs ?? {} });
        scope.steps.set(step.id, earlier ? { status: 'succeeded', outputs: earlier.outputs, durationMs: earlier.durationMs, attempts: earlier.attempts } : { status: 'skipped', outputs: {}, durationMs: 0, attempts: 0, error: skip });
        emit({ type: 'step.end', result: results[results.length - 1] as StepResult });
      } else toRun.push(step);
    }
    const done = await Promise.all(toRun.map((step) => runStep(step, 'steps', opts.signal)));
    toRun.forEach((step, k) => {
      const { result, outcome } = done[k]!;
      results.push(result);
      scope.steps.set(step.id, { status: result.status, outputs: result.outputs, durationMs: result.durationMs, attempts: result.attempts, error: result.reason });
      if (outcome === 'interrupted') {
        halted ??= { why: 'interrupted', step: step.id };
        interruptedStep ??= step.id;
      } else if (outcome === 'declined') halted ??= { why: 'declined', step: step.id };
      else if (outcome === 'failed') {
        if (!step.critical) return;
        failed = true;
        if (step.onFailure === 'abort') halted ??= { why: 'failed', step: step.id };
        else if (step.onFailure !== 'continue') jumpTo = step.onFailure;
      }
    });
  }

  scope.status = statusOf(halted?.why, failed);
  const finallySignal = opts.forceSignal ?? new AbortController().signal;
  for (const step of rb.finally) {
    if (finallySignal.aborted) {
      results.push(skipped(step, 'finally', 'not run: forced exit'));
      continue;
    }
    const { result, outcome } = await runStep(step, 'finally', finallySignal);
    results.push(result);
    scope.steps.set(step.id, { status: result.status, outputs: result.outputs, durationMs: result.durationMs, attempts: result.attempts, error: result.reason });
    if (outcome === 'failed' && step.critical) failed = true;
    if (outcome === 'interrupted' && !halted) halted = { why: 'interrupted', step: step.id };
    scope.status = statusOf(halted?.why, failed);
  }

  const endedAt = Date.now();
  const status = statusOf(halted?.why, failed);
  const rpoMs = rb.targets?.rpo === undefined ? undefined : tryParseDuration(rb.targets.rpo);
  const measured = measure(startedAt, endedAt, results, status);
  const v = verdicts({ rtoMs, rpoMs }, measured, results);
  const exitCode =
    status === 'interrupted' ? ExitCode.interrupted
    : status === 'declined' ? ExitCode.declined
    : status === 'failed' ? (usageFailure ? ExitCode.usage : ExitCode.failed)
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
    steps: results,
    interruptedStep,
    exitCode,
  });
  emit({ type: 'run.end', report });
  return report;

  async function runStep(
    step: Step,
    section: 'steps' | 'finally',
    runSignal: AbortSignal,
  ): Promise<{ result: StepResult; outcome: 'succeeded' | 'failed' | 'skipped' | 'declined' | 'interrupted' }> {
    const limits = stepLimits(step);
    const base = {
      id: step.id,
      uses: step.uses,
      section,
      critical: step.critical,
      budgetMs: limits.budgetMs,
      budgetEnforced: limits.budgetEnforced,
      disaster: step.disaster || undefined,
      recovered: step.recovered || undefined,
    };
    const action = opts.registry.get(step.uses);
    const t0 = performance.now();
    const startIso = new Date().toISOString();
    const finish = (
      status: StepResult['status'],
      extra: Partial<StepResult> & { attempts: number },
      error?: string,
    ): StepResult => {
      const durationMs = Math.round(performance.now() - t0);
      const result: StepResult = {
        ...base,
        status,
        startedAt: startIso,
        endedAt: new Date().toISOString(),
        durationMs,
        timedOut: false,
        canceled: false,
        overBudget: limits.budgetMs !== undefined && durationMs > limits.budgetMs,
        outputs: {},
        ...extra,
      };
      emit({ type: 'step.end', result, error });
      return result;
    };

    if (step.if !== undefined) {
      try {
        const cond =
          typeof step.if === 'boolean' ? step.if
          : isTemplate(step.if) ? renderString(step.if, scope.strict())
          : evaluate(parseExpression(step.if), scope.strict());
        if (!truthy(cond)) return { result: skipped(step, section, 'condition is false', base), outcome: 'skipped' };
      } catch (err) {
        const msg = `if: ${errorMessage(err)}`;
        return { result: finish('failed', { attempts: 0, reason: msg, errorCode: 'template' }, msg), outcome: 'failed' };
      }
    }

    let backoff = limits.backoffMs;
    let lastError = '';
    let lastCode: string | undefined;
    let timedOut = false;
    let lastOutputs: Outputs = {};
    for (let attempt = 1; attempt <= limits.attempts; attempt++) {
      let input: unknown;
      try {
        input = renderDeep(step.with, scope.strict(), action.shellInputs);
      } catch (err) {
        const msg = errorMessage(err);
        return { result: finish('failed', { attempts: attempt, reason: msg, errorCode: 'template' }, msg), outcome: 'failed' };
      }
      emit({
        type: 'step.start',
        id: step.id,
        uses: step.uses,
        description: safeDescribe(action.describe, input, step.uses),
        attempt,
        budgetMs: limits.budgetMs,
        timeoutMs: limits.timeoutMs,
      });
      const timeoutCtl = new AbortController();
      const timer = limits.timeoutMs === undefined ? undefined : setTimeout(() => timeoutCtl.abort(TIMEOUT), limits.timeoutMs);
      const signal = AbortSignal.any([runSignal, timeoutCtl.signal]);
      try {
        const outputs = await settleOrAbort(action.run(context(step.id, signal, t0), input), signal);
        clearTimeout(timer);
        return { result: finish('succeeded', { attempts: attempt, outputs }), outcome: 'succeeded' };
      } catch (err) {
        clearTimeout(timer);
        if (runSignal.aborted) {
          const msg = 'interrupted';
          return { result: finish('canceled', { attempts: attempt, canceled: true, reason: msg, errorCode: 'interrupted' }, msg), outcome: 'interrupted' };
        }
        if (err instanceof ConfirmationError) {
          const msg = err.message;
          return { result: finish('failed', { attempts: attempt, reason: msg, errorCode: err.code }, msg), outcome: 'declined' };
        }
        timedOut = timeoutCtl.signal.aborted;
        lastError = timedOut ? `timed out after ${formatDuration(limits.timeoutMs ?? 0)}` : describeError(err);
        lastCode = timedOut ? 'timeout' : err instanceof DrctlError ? err.code : 'error';
        lastOutputs = outputsOf(err);
        // A `with:` value its action refuses is bad input (exit 2), and trying again cannot help.
        const badInput = err instanceof ZodError || (err instanceof DrctlError && err.exitCode === ExitCode.usage);
        if (badInput && step.critical) usageFailure = true;
        if (err instanceof ZodError || (err instanceof DrctlError && !err.retryable)) {
          return {
            result: finish('failed', { attempts: attempt, reason: lastError, errorCode: lastCode, outputs: lastOutputs }, lastError),
            outcome: 'failed',
          };
        }
        if (attempt < limits.attempts) {
          emit({ type: 'step.retry', id: step.id, attempt, error: lastError, waitMs: backoff });
          try {
            await sleep(backoff, undefined, { signal: runSignal });
          } catch {
            const msg = 'interrupted';
            return { result: finish('canceled', { attempts: attempt, canceled: true, reason: msg, errorCode: 'interrupted' }, msg), outcome: 'interrupted' };
          }
          backoff = Math.min(backoff * 2, limits.maxBackoffMs ?? Number.POSITIVE_INFINITY);
        }
      }
    }
    return {
      result: finish('failed', { attempts: limits.attempts, timedOut, reason: lastError, errorCode: lastCode, outputs: lastOutputs }, lastError),
      outcome: 'failed',
    };
  }

  function context(stepId: string, signal: AbortSignal, t0: number): ActionContext {
    let lastProgress = 0;
    return {
      signal,
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

function statusOf(why: 'failed' | 'declined' | 'interrupted' | undefined, failed: boolean): RunStatus {
  if (why === 'interrupted') return 'interrupted';
  if (why === 'declined') return 'declined';
  return failed || why === 'failed' ? 'failed' : 'succeeded';
}

function skipped(step: Step, section: 'steps' | 'finally', reason: string, base: Partial<StepResult> = {}): StepResult {
  return {
    id: step.id,
    uses: step.uses,
    section,
    critical: step.critical,
    ...base,
    status: 'skipped',
    reason,
    durationMs: 0,
    attempts: 0,
    timedOut: false,
    canceled: false,
    overBudget: false,
    outputs: {},
  };
}

// An action that ignores its signal must not hang the run: on abort we give it a grace period
// to stop its children, then move on.
async function settleOrAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => {});
  if (signal.aborted) throw signal.reason;
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      const grace = sleep(SETTLE_GRACE_MS).then(() => undefined);
      void Promise.race([work.then(() => undefined, () => undefined), grace]).then(() => reject(signal.reason));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  // A result that arrives after the abort does not count: the step timed out.
  const settled = work.then((v) => {
    if (signal.aborted) throw signal.reason;
    return v;
  });
  try {
    return await Promise.race([settled, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function describeError(err: unknown): string {
  if (err instanceof ZodError) {
    return err.issues.map((i) => `with.${i.path.join('.')}: ${i.message}`).join('; ');
  }
  return errorMessage(err);
}

function outputsOf(err: unknown): Outputs {
  const cause = (err as { cause?: unknown })?.cause;
  return cause !== null && typeof cause === 'object' && !(cause instanceof Error) ? (cause as Outputs) : {};
}

function safeDescribe(describe: (i: unknown) => string, input: unknown, uses: string): string {
  try {
    return describe(input);
  } catch {
    return uses;
  }
}
