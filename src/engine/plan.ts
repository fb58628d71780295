import type { Registry } from '../adapters/registry.js';
import { secrets } from '../redact.js';
import type { Runbook, Step } from '../runbook/schema.js';
import { renderDeep } from '../runbook/template.js';
import { tryParseDuration } from '../time/duration.js';
import type { Scope } from './scope.js';

// The plan: every step resolved as far as it can be without running anything. Pure; used by
// `drctl plan`, `--dry-run`, and the engine itself for timeouts, budgets and retries.

export interface StepPlan {
  id: string;
  uses: string;
  section: 'steps' | 'finally';
  description: string;
  if?: string | boolean;
  timeoutMs?: number;
  budgetMs?: number;
  budgetEnforced: boolean;
  attempts: number;
  backoffMs: number;
  maxBackoffMs?: number;
  onFailure: string;
  critical: boolean;
  disaster: boolean;
  recovered: boolean;
  /** `with:` values that rest on an input nobody gave or an unset variable: `url=<missing: inputs.target>`. */
  unresolved?: string[];
}

export interface RunPlan {
  runbook: string;
  description?: string;
  rtoMs?: number;
  rpoMs?: number;
  inputs: Record<string, unknown>;
  steps: StepPlan[];
}

/** Timeouts, budgets and retries of one step, as numbers. */
export function stepLimits(step: Step): Omit<StepPlan, 'id' | 'uses' | 'section' | 'description' | 'if'> {
  const budget = step.budget;
  const budgetMs = budget === undefined ? undefined : tryParseDuration(typeof budget === 'object' ? budget.duration : budget);
  return {
    timeoutMs: step.timeout === undefined ? undefined : tryParseDuration(step.timeout),
    budgetMs,
    budgetEnforced: typeof budget === 'object' && budget.enforce,
    attempts: step.retries?.attempts ?? 1,
    backoffMs: tryParseDuration(step.retries?.backoff ?? '1s') ?? 1000,
    maxBackoffMs: step.retries?.maxBackoff === undefined ? undefined : tryParseDuration(step.retries.maxBackoff),
    onFailure: step.onFailure,
    critical: step.critical,
    disaster: step.disaster,
    recovered: step.recovered,
  };
}

/** What each step would do; references to step outputs show as <placeholders>. */
export function planRunbook(rb: Runbook, registry: Registry, scope: Scope): RunPlan {
  const describe = (step: Step, section: 'steps' | 'finally'): StepPlan => {
    let description: string;
    const shellKeys = registry.has(step.uses) ? registry.get(step.uses).shellInputs : [];
    let input: unknown;
    try {
      input = renderDeep(step.with, scope.lenient(), shellKeys);
    } catch (err) {
      input = { error: (err as Error).message };
    }
    try {
      description = registry.get(step.uses).describe(input);
    } catch {
      description = `${step.uses} ${JSON.stringify(input)}`;
    }
    // An adapter's description may hide a value ("connect to PostgreSQL"); a plan must not read
    // as settled when a value it rests on is missing, so those values are named beside it.
    const unresolved = unresolvedValues(input);
    const plan: StepPlan = { id: step.id, uses: step.uses, section, description: secrets.redact(description), if: step.if, ...stepLimits(step) };
    if (unresolved.length) plan.unresolved = unresolved;
    return plan;
  };
  return {
    runbook: rb.name,
    description: rb.description,
    rtoMs: rb.targets?.rto === undefined ? undefined : tryParseDuration(rb.targets.rto),
    rpoMs: rb.targets?.rpo === undefined ? undefined : tryParseDuration(rb.targets.rpo),
    inputs: secrets.redactDeep(scope.inputs as Record<string, unknown>),
    steps: [...rb.steps.map((s) => describe(s, 'steps')), ...rb.finally.map((s) => describe(s, 'finally'))],
  };
}

const UNRESOLVED = /<missing: inputs\.[A-Za-z0-9_-]+>|<env\.[A-Za-z0-9_]+>/g;

/** `key=<placeholder>` for every missing input or unset variable inside a rendered `with:`. */
function unresolvedValues(input: unknown, key = ''): string[] {
  if (typeof input === 'string') return [...new Set(input.match(UNRESOLVED) ?? [])].map((m) => (key ? `${key}=${m}` : m));
  if (Array.isArray(input)) return input.flatMap((v, i) => unresolvedValues(v, `${key}[${i}]`));
  if (input && typeof input === 'object') return Object.entries(input).flatMap(([k, v]) => unresolvedValues(v, key ? `${key}.${k}` : k));
  return [];
}
