import type { DrillSummary, RunReport } from '../engine/step-result.js';
import { formatDuration } from '../time/duration.js';
import { truthfulVerdicts, wasRecovered } from './verdicts.js';

// Drill comparisons: each drill against the previous drills of the same runbook.

export function summarizeDrill(r: RunReport): DrillSummary {
  const slowest = [...r.steps].filter((s) => s.status !== 'skipped').sort((a, b) => b.durationMs - a.durationMs)[0];
  return {
    runId: r.runId,
    startedAt: r.startedAt,
    status: r.status,
    recovered: wasRecovered(r),
    rtoMs: wasRecovered(r) ? (r.measured?.rtoMs ?? r.durationMs) : undefined,
    rpoMs: wasRecovered(r) ? r.measured?.rpoMs : undefined,
    slowestStep: slowest?.id,
    slowestMs: slowest?.durationMs,
    targetsMet: wasRecovered(r) && truthfulVerdicts(r).every((v) => v.met),
  };
}

/** Rows for this drill and the earlier ones: date, RTO, RPO, slowest step, result. */
export function drillRows(current: RunReport, previous: DrillSummary[]): string[][] {
  return [summarizeDrill(current), ...previous].map((d, i) => [
    `${d.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}${i === 0 ? ' (this drill)' : ''}`,
    // Summaries kept by earlier versions have no `recovered`: only a succeeded drill recovered.
    d.recovered === false || d.rtoMs === undefined || d.status !== 'succeeded' ? 'not recovered' : formatDuration(d.rtoMs),
    d.rpoMs === undefined ? '-' : formatDuration(d.rpoMs),
    d.slowestStep ? `${d.slowestStep} ${formatDuration(d.slowestMs ?? 0)}` : '-',
    d.targetsMet ? 'pass' : d.status === 'succeeded' ? 'MISSED TARGET' : d.status.toUpperCase(),
  ]);
}

export const DRILL_HEADER = ['date', 'RTO', 'RPO', 'slowest step', 'result'];
