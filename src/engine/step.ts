import { setTimeout as sleep } from 'node:timers/promises';
import { ZodError } from 'zod';
import type { Action, ActionContext, Outputs } from '../adapters/types.js';
import { ConfirmationError, DrctlError, errorMessage, ExitCode } from '../errors.js';
import { evaluate, parseExpression, truthy } from '../runbook/expression.js';
import type { Step } from '../runbook/schema.js';
import { isTemplate, renderDeep, renderString } from '../runbook/template.js';
import { formatDuration } from '../time/duration.js';
import { attempt } from './attempt.js';
import type { Emit } from './events.js';
import { stepLimits } from './plan.js';
import type { Scope } from './scope.js';
import type { StepResult } from './step-result.js';

// One step, start to end: its `if`, then attempts with retry and backoff around them, ending
// in one StepResult and an outcome the run state records.

export type Section = 'steps' | 'finally';
export type Outcome = 'succeeded' | 'failed' | 'skipped' | 'declined' | 'interrupted';

export interface StepRun {
  result: StepResult;
  outcome: Outcome;
  /** A `with:` value the action refused as bad input (the run then exits 2 if it fails). */
  badInput: boolean;
}

/** What a step needs from the run around it. */
export interface StepEnv {
  action(uses: string): Action;
  scope: Scope;
  emit: Emit;
  context(stepId: string, signal: AbortSignal, t0: number, stepTimeoutMs?: number): ActionContext;
}

export async function runStep(env: StepEnv, step: Step, section: Section, runSignal: AbortSignal): Promise<StepRun> {
  const { scope, emit } = env;
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
  const action = env.action(step.uses);
  const t0 = performance.now();
  const startIso = new Date().toISOString();
  let badInput = false;
  const end = (outcome: Outcome, status: StepResult['status'], extra: Partial<StepResult> & { attempts: number }, error?: string): StepRun => {
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
    return { result, outcome, badInput };
  };
  const interrupted = (attempts: number) => end('interrupted', 'canceled', { attempts, canceled: true, reason: 'interrupted', errorCode: 'interrupted' }, 'interrupted');

  if (step.if !== undefined) {
    try {
      const cond =
        typeof step.if === 'boolean' ? step.if
        : isTemplate(step.if) ? renderString(step.if, scope.strict())
        : evaluate(parseExpression(step.if), scope.strict());
      if (!truthy(cond)) return { result: skippedResult(step, section, 'condition is false', base), outcome: 'skipped', badInput };
    } catch (err) {
      const msg = `if: ${errorMessage(err)}`;
      return end('failed', 'failed', { attempts: 0, reason: msg, errorCode: 'template' }, msg);
    }
  }

  let backoff = limits.backoffMs;
  let lastError = '';
  let lastCode: string | undefined;
  let timedOut = false;
  let lastOutputs: Outputs = {};
  for (let n = 1; n <= limits.attempts; n++) {
    let input: unknown;
    try {
      input = renderDeep(step.with, scope.strict(), action.shellInputs);
    } catch (err) {
      const msg = errorMessage(err);
      return end('failed', 'failed', { attempts: n, reason: msg, errorCode: 'template' }, msg);
    }
    emit({ type: 'step.start', id: step.id, uses: step.uses, description: safeDescribe(action.describe, input, step.uses), attempt: n, budgetMs: limits.budgetMs, timeoutMs: limits.timeoutMs });
    const r = await attempt((signal) => action.run(env.context(step.id, signal, t0, limits.timeoutMs), input), limits.timeoutMs, runSignal);
    if (r.ok) return end('succeeded', 'succeeded', { attempts: n, outputs: r.outputs });
    const err = r.error;
    if (runSignal.aborted) return interrupted(n);
    if (err instanceof ConfirmationError) return end('declined', 'failed', { attempts: n, reason: err.message, errorCode: err.code }, err.message);
    timedOut = r.timedOut;
    lastError = timedOut ? `timed out after ${formatDuration(limits.timeoutMs ?? 0)}` : describeError(err);
    lastCode = timedOut ? 'timeout' : err instanceof DrctlError ? err.code : 'error';
    lastOutputs = outputsOf(err);
    // A `with:` value its action refuses is bad input (exit 2), and trying again cannot help.
    if (err instanceof ZodError || (err instanceof DrctlError && err.exitCode === ExitCode.usage)) badInput = true;
    if (err instanceof ZodError || (err instanceof DrctlError && !err.retryable)) {
      return end('failed', 'failed', { attempts: n, reason: lastError, errorCode: lastCode, outputs: lastOutputs }, lastError);
    }
    if (n < limits.attempts) {
      emit({ type: 'step.retry', id: step.id, attempt: n, error: lastError, waitMs: backoff });
      try {
        await sleep(backoff, undefined, { signal: runSignal });
      } catch {
        return interrupted(n);
      }
      backoff = Math.min(backoff * 2, limits.maxBackoffMs ?? Number.POSITIVE_INFINITY);
    }
  }
  return end('failed', 'failed', { attempts: limits.attempts, timedOut, reason: lastError, errorCode: lastCode, outputs: lastOutputs }, lastError);
}

/** The result of a step that did not run. */
export function skippedResult(step: Step, section: Section, reason: string, base: Partial<StepResult> = {}): StepResult {
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
