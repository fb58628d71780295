import type { RunReport } from '../engine/step-result.js';
import { secrets } from '../redact.js';
import type { Executed } from './execute.js';

// The --json document of a built-in command that runs a runbook (backup, restore): whether it
// worked, why not, and the outputs of the step that did the work. Scripts read this instead of
// scraping the human text, which may change.

export interface RunResultDocument {
  ok: boolean;
  exitCode: number;
  dryRun: boolean;
  runId?: string;
  runbook?: string;
  status?: RunReport['status'];
  durationMs?: number;
  failures: { step: string; reason: string }[];
  [key: string]: unknown;
}

/** Whether a run worked and why not: the fields every run's --json document starts with. */
export function runOutcome(r: Executed, dryRun: boolean): RunResultDocument {
  const report = r.report;
  return secrets.redactDeep({
    ok: r.exitCode === 0,
    exitCode: r.exitCode,
    dryRun,
    runId: report?.runId,
    runbook: report?.runbook,
    status: report?.status,
    durationMs: report?.durationMs,
    failures: (report?.steps ?? []).filter((s) => s.status === 'failed').map((s) => ({ step: s.id, reason: s.reason ?? '' })),
  });
}

/** The document for an executed run; `step` names the step whose outputs are the result. */
export function runResult(r: Executed, o: { dryRun: boolean; step: string; as: string }): RunResultDocument {
  const step = r.report?.steps.find((s) => s.id === o.step);
  // Only a step that did its work has a result; a failed one's partial outputs are no backup.
  return { ...runOutcome(r, o.dryRun), [o.as]: step?.status === 'succeeded' ? secrets.redactDeep(step.outputs) : null };
}
