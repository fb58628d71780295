import type { RunStatus, StepResult, TargetVerdict } from './step-result.js';

// RTO, RPO and budget verdicts from measured times. A run that finishes but misses a target
// ends with exit 3, so CI can tell "broken" from "too slow".
//
// RTO is measured from the disaster to the recovery: the end of the step marked
// `disaster: true` (else the start of the run) to the end of the step marked
// `recovered: true` (else the end of the run). RPO is the data lost: the disaster time minus
// the recovery point the recovering step reports (outputs.recoveryPoint).
//
// Only a run that succeeded recovered anything. A restore that failed in 12 ms did not meet a
// one-hour RTO: a failed, declined or interrupted run is "not recovered" against every target,
// and so is a run whose step marked `recovered: true` failed.

export interface Measures {
  recovered: boolean;
  disasterAt: number;
  /** Undefined when the run did not recover. */
  recoveredAt?: number;
  rtoMs?: number;
  /** Undefined when the run did not recover or no step reported a recovery point. */
  rpoMs?: number;
  recoveryPoint?: string;
}

export function measure(runStart: number, runEnd: number, steps: StepResult[], status: RunStatus = 'succeeded'): Measures {
  const disaster = steps.find((s) => s.disaster && s.status === 'succeeded' && s.endedAt);
  const disasterAt = disaster?.endedAt ? Date.parse(disaster.endedAt) : runStart;
  if (status !== 'succeeded') return { recovered: false, disasterAt };
  // A run can succeed past a recovery step that failed: one marked `critical: false`. That run
  // recovered nothing, and its end is no recovery time. A step its `if` skipped was not wanted
  // this time (a verification a runbook makes optional): the run's end counts, unless some step
  // failed, which may be why it was skipped.
  const anyFailed = steps.some((s) => s.status !== 'succeeded' && s.status !== 'skipped');
  const unrecovered = steps.some((s) => s.recovered && s.status !== 'succeeded' && (s.status !== 'skipped' || anyFailed));
  if (unrecovered) return { recovered: false, disasterAt };
  const recovered = steps.find((s) => s.recovered && s.status === 'succeeded' && s.endedAt);
  const recoveredAt = recovered?.endedAt ? Date.parse(recovered.endedAt) : runEnd;
  // The recovery point is the one reported last up to the recovering step.
  const markedIndex = steps.findIndex((s) => s.recovered);
  const upTo = markedIndex < 0 ? steps : steps.slice(0, markedIndex + 1);
  const withPoint = [...upTo].reverse().find((s) => s.status === 'succeeded' && typeof s.outputs.recoveryPoint === 'string' && s.outputs.recoveryPoint !== '');
  const recoveryPoint = withPoint?.outputs.recoveryPoint as string | undefined;
  const point = recoveryPoint ? Date.parse(recoveryPoint) : Number.NaN;
  return {
    recovered: true,
    disasterAt,
    recoveredAt,
    rtoMs: Math.max(0, recoveredAt - disasterAt),
    rpoMs: Number.isNaN(point) ? undefined : Math.max(0, disasterAt - point),
    recoveryPoint,
  };
}

/** The verdicts for a finished run: RTO, RPO (when measurable), and every enforced step budget. */
export function verdicts(targets: { rtoMs?: number; rpoMs?: number }, m: Measures, steps: StepResult[]): TargetVerdict[] {
  const out: TargetVerdict[] = [];
  if (!m.recovered) {
    if (targets.rtoMs !== undefined) out.push({ name: 'rto', targetMs: targets.rtoMs, met: false, notRecovered: true });
    if (targets.rpoMs !== undefined) out.push({ name: 'rpo', targetMs: targets.rpoMs, met: false, notRecovered: true });
  } else {
    if (targets.rtoMs !== undefined && m.rtoMs !== undefined) out.push({ name: 'rto', targetMs: targets.rtoMs, achievedMs: m.rtoMs, met: m.rtoMs <= targets.rtoMs });
    if (targets.rpoMs !== undefined && m.rpoMs !== undefined) out.push({ name: 'rpo', targetMs: targets.rpoMs, achievedMs: m.rpoMs, met: m.rpoMs <= targets.rpoMs });
  }
  for (const s of steps) {
    if (s.budgetMs === undefined || !s.budgetEnforced || s.status === 'skipped') continue;
    // A step that failed quickly did not do its work within budget; one that failed slowly missed it.
    if (s.status !== 'succeeded' && s.durationMs <= s.budgetMs) continue;
    out.push({ name: 'budget', step: s.id, targetMs: s.budgetMs, achievedMs: s.durationMs, met: s.durationMs <= s.budgetMs });
  }
  return out;
}
