import type { RunReport } from '../engine/step-result.js';
import { formatDuration } from '../time/duration.js';
import { DRILL_HEADER, drillRows } from './drills.js';
import { truthfulVerdicts, wasRecovered } from './verdicts.js';

// The Markdown report: a recovery-time table in the shape of a DR drill log (step, time, budget,
// status), then the verdicts against RTO/RPO.

export function markdownReport(r: RunReport): string {
  const out: string[] = [];
  out.push(`# ${r.kind === 'drill' ? 'DR drill' : 'Run'}: ${r.runbook}`, '');
  if (r.description) out.push(r.description, '');
  out.push(`- Run: \`${r.runId}\``);
  out.push(`- Started: ${r.startedAt}`);
  out.push(`- Finished: ${r.endedAt} (${formatDuration(r.durationMs)})`);
  out.push(`- Result: **${r.status}** (exit ${r.exitCode})`);
  if (r.interruptedStep) out.push(`- Interrupted during: \`${r.interruptedStep}\``);
  if (r.measured && (!wasRecovered(r) || r.measured.rtoMs === undefined)) out.push('- Recovery time (disaster → recovered): **not recovered** (the run did not succeed)');
  else if (r.measured?.rtoMs !== undefined) {
    out.push(`- Recovery time (disaster → recovered): ${formatDuration(r.measured.rtoMs)}`);
    if (r.measured.recoveryPoint) out.push(`- Recovery point: ${r.measured.recoveryPoint}; data lost (RPO): ${r.measured.rpoMs === undefined ? 'n/a' : formatDuration(r.measured.rpoMs)}`);
  }
  out.push('', '| Step | Action | Status | Time | Budget | Tries | Notes |', '|---|---|---|---:|---:|---:|---|');
  for (const s of r.steps) {
    const budget = s.budgetMs === undefined ? '' : `${formatDuration(s.budgetMs)}${s.overBudget ? ' ⚠ over' : ''}`;
    const time = s.status === 'skipped' ? '' : formatDuration(s.durationMs);
    out.push(`| ${cell(s.id)} | ${cell(s.uses)} | ${s.status} | ${time} | ${budget} | ${s.attempts || ''} | ${cell(s.reason ?? '')} |`);
  }
  const verdicts = truthfulVerdicts(r);
  if (verdicts.length) {
    out.push('', '## Targets', '', '| Target | Objective | Achieved | Verdict |', '|---|---:|---:|---|');
    for (const v of verdicts) {
      const name = v.name === 'budget' ? `budget: ${v.step}` : v.name.toUpperCase();
      if (v.notRecovered || v.achievedMs === undefined) out.push(`| ${cell(name)} | ${formatDuration(v.targetMs)} | not recovered | **not recovered** |`);
      else out.push(`| ${cell(name)} | ${formatDuration(v.targetMs)} | ${formatDuration(v.achievedMs)} | ${v.met ? 'met' : `**missed** by ${formatDuration(v.achievedMs - v.targetMs)}`} |`);
    }
  }
  if (r.previous !== undefined) {
    out.push('', '## Drills of this runbook', '', `| ${DRILL_HEADER.join(' | ')} |`, `|${DRILL_HEADER.map(() => '---').join('|')}|`);
    for (const row of drillRows(r, r.previous)) out.push(`| ${row.map(cell).join(' | ')} |`);
  }
  out.push('');
  return out.join('\n');
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
