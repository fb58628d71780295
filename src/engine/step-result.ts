// Results are data: what each step did and how long it took, as the reporters, the history
// and the drill comparisons read them.

export type StepStatus = 'succeeded' | 'failed' | 'skipped' | 'canceled';
export type RunStatus = 'succeeded' | 'failed' | 'declined' | 'interrupted';

export interface StepResult {
  id: string;
  uses: string;
  section: 'steps' | 'finally';
  status: StepStatus;
  /** Why a step was skipped or failed, one line. */
  reason?: string;
  startedAt?: string;
  endedAt?: string;
  durationMs: number;
  attempts: number;
  timedOut: boolean;
  canceled: boolean;
  critical: boolean;
  budgetMs?: number;
  budgetEnforced?: boolean;
  overBudget: boolean;
  outputs: Record<string, unknown>;
  /** The error code of the failure (e.g. integrity, shell.exit, timeout). */
  errorCode?: string;
  disaster?: boolean;
  recovered?: boolean;
}

export interface TargetVerdict {
  name: 'rto' | 'rpo' | 'budget';
  step?: string;
  targetMs: number;
  /** Absent when nothing was recovered: a failed run has no recovery time to compare. */
  achievedMs?: number;
  met: boolean;
  /** RTO/RPO of a run that failed, was declined or interrupted: the target was not met, nothing was recovered. */
  notRecovered?: true;
}

export interface RunReport {
  runId: string;
  runbook: string;
  file: string;
  description?: string;
  kind: 'run' | 'drill';
  dryRun: boolean;
  status: RunStatus;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  inputs: Record<string, unknown>;
  targets: { rtoMs?: number; rpoMs?: number };
  /**
   * RTO from disaster to recovery; RPO from the recovery point reported by the restore. A run
   * that did not succeed did not recover: `recovered` is false and there is no RTO or RPO.
   */
  measured: { recovered: boolean; disasterAt: string; recoveredAt?: string; rtoMs?: number; rpoMs?: number; recoveryPoint?: string };
  verdicts: TargetVerdict[];
  steps: StepResult[];
  /** The step that was running when the run was interrupted. */
  interruptedStep?: string;
  /** Incident title, for runs started with --incident. */
  incident?: string;
  /** Drills: the earlier drills of the same runbook, newest first. */
  previous?: DrillSummary[];
  exitCode: number;
}

/** One earlier drill, as the comparison table shows it. */
export interface DrillSummary {
  runId: string;
  startedAt: string;
  status: RunStatus;
  /** False for a run that failed or was interrupted: then there is no RTO. */
  recovered: boolean;
  rtoMs?: number;
  rpoMs?: number;
  slowestStep?: string;
  slowestMs?: number;
  targetsMet: boolean;
}
