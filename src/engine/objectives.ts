import type { StepResult, TargetVerdict } from './step-result.js';

// RTO and budget verdicts from measured times. A run that finishes but misses a target
// ends with exit 3, so CI can tell "broken" from "too slow".

/** The verdicts for a finished run: its RTO, and every enforced step budget. */
export function verdicts(rtoMs: number | undefined, elapsedMs: number, steps: StepResult[]): TargetVerdict[] {
  const out: TargetVerdict[] = [];
  if (rtoMs !== undefined) out.push({ name: 'rto', targetMs: rtoMs, achievedMs: elapsedMs, met: elapsedMs <= rtoMs });
  for (const s of steps) {
    if (s.budgetMs !== undefined && s.budgetEnforced && s.status !== 'skipped') {
      out.push({ name: 'budget', step: s.id, targetMs: s.budgetMs, achievedMs: s.durationMs, met: s.durationMs <= s.budgetMs });
    }
  }
  return out;
}
