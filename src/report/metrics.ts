import type { RunReport } from '../engine/step-result.js';
import type { MetricsBuilder } from '../prometheus-textfile.js';
import { truthfulVerdicts, wasRecovered } from './verdicts.js';

// The metrics of a drill or a built-in command run, for the Prometheus textfile
// (src/prometheus-textfile.ts).

/** Metrics of one drill or built-in command run (drctl drill, drctl backup). */
export function runMetrics(r: RunReport): (m: MetricsBuilder) => void {
  return (m) => {
    const base = { runbook: r.runbook, kind: r.kind };
    const ok = r.status === 'succeeded' && r.exitCode === 0;
    const now = Math.floor(Date.parse(r.endedAt) / 1000);
    m.gauge('drctl_run_success', '1 when the last run succeeded and met its targets', base, ok ? 1 : 0);
    m.gauge('drctl_run_exit_code', 'exit code of the last run', base, r.exitCode);
    m.gauge('drctl_run_duration_seconds', 'duration of the last run', base, r.durationMs / 1000);
    m.gauge('drctl_run_last_timestamp_seconds', 'end of the last run', base, now);
    m.lastSuccess('drctl_run_last_success_timestamp_seconds', 'end of the last successful run', base, ok, now);
    for (const s of r.steps) {
      if (s.status === 'skipped') continue;
      const labels = { runbook: r.runbook, step: s.id };
      m.gauge('drctl_step_duration_seconds', 'duration of each step of the last run', labels, s.durationMs / 1000);
      m.gauge('drctl_step_success', '1 when the step succeeded in the last run', labels, s.status === 'succeeded' ? 1 : 0);
      if (s.budgetMs !== undefined) m.gauge('drctl_step_budget_seconds', 'time budget of each step', labels, s.budgetMs / 1000);
      const id = s.outputs.backupId;
      if (s.status === 'succeeded' && typeof id === 'string') {
        if (typeof s.outputs.bytes === 'number') m.gauge('drctl_backup_size_bytes', 'size of the last backup before compression and encryption', labels, s.outputs.bytes);
        if (typeof s.outputs.storedBytes === 'number') m.gauge('drctl_backup_stored_bytes', 'bytes the last backup takes in the repository', labels, s.outputs.storedBytes);
      }
    }
    if (r.kind === 'drill') {
      const d = { runbook: r.runbook };
      // A drill that did not recover has no recovery time: no RTO sample rather than a fast one.
      m.gauge('drctl_drill_recovered', '1 when the last drill recovered (succeeded), 0 when it failed or was interrupted', d, wasRecovered(r) ? 1 : 0);
      if (wasRecovered(r) && r.measured.rtoMs !== undefined) m.gauge('drctl_drill_rto_seconds', 'recovery time of the last drill (disaster to recovered)', d, r.measured.rtoMs / 1000);
      if (wasRecovered(r) && r.measured.rpoMs !== undefined) m.gauge('drctl_drill_rpo_seconds', 'data lost in the last drill (disaster minus recovery point)', d, r.measured.rpoMs / 1000);
      if (r.targets.rtoMs !== undefined) m.gauge('drctl_drill_target_seconds', 'RTO and RPO targets of the runbook', { ...d, objective: 'rto' }, r.targets.rtoMs / 1000);
      if (r.targets.rpoMs !== undefined) m.gauge('drctl_drill_target_seconds', 'RTO and RPO targets of the runbook', { ...d, objective: 'rpo' }, r.targets.rpoMs / 1000);
      m.gauge('drctl_drill_targets_met', '1 when the last drill met every target', d, wasRecovered(r) && truthfulVerdicts(r).every((v) => v.met) ? 1 : 0);
    }
  };
}
