import type { RunReport, TargetVerdict } from '../engine/step-result.js';
import { formatDuration } from '../time/duration.js';

// How every output words a verdict, so the terminal, the reports, the history and the drill
// comparison never disagree about whether a target was met.

/** Whether a run recovered; records written before `measured.recovered` existed count only when they succeeded. */
export function wasRecovered(r: Pick<RunReport, 'status'> & { measured?: { recovered?: boolean } }): boolean {
  return r.status === 'succeeded' && r.measured?.recovered !== false;
}

/** The RTO/RPO verdicts of a run as they must be read: a run that did not recover met nothing. */
export function truthfulVerdicts(r: RunReport): TargetVerdict[] {
  if (wasRecovered(r)) return r.verdicts;
  return r.verdicts.map((v) => (v.name === 'budget' ? v : { name: v.name, targetMs: v.targetMs, met: false, notRecovered: true }));
}

/** "met", "MISSED by 3.2s" or "NOT RECOVERED". */
export function verdictWord(v: TargetVerdict): string {
  if (v.notRecovered || v.achievedMs === undefined) return 'NOT RECOVERED';
  return v.met ? 'met' : `MISSED by ${formatDuration(v.achievedMs - v.targetMs)}`;
}

/** "RTO: 12.0s against 1h00m — met", "RTO: not recovered (target 1h00m)". */
export function verdictLine(v: TargetVerdict): string {
  const what = v.name === 'budget' ? `budget of ${v.step}` : v.name.toUpperCase();
  if (v.notRecovered || v.achievedMs === undefined) return `${what}: not recovered (target ${formatDuration(v.targetMs)}) — the run did not succeed`;
  return `${what}: ${formatDuration(v.achievedMs)} against ${formatDuration(v.targetMs)} — ${verdictWord(v)}`;
}
