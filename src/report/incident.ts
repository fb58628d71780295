import type { RunReport } from '../engine/step-result.js';
import { formatDuration } from '../time/duration.js';
import { truthfulVerdicts, verdictLine, wasRecovered } from './verdicts.js';

// The incident record of a run started with --incident, in the shape of an incident
// response workflow's templates: summary, timeline (steps, operator confirmations with who/when,
// notes), impact, RTO/RPO achieved, follow-ups.

const hhmmss = (iso: string | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '');

export function incidentReport(r: RunReport): string {
  const out: string[] = [];
  const resolved = r.status === 'succeeded';
  out.push(`# Incident: ${r.incident ?? r.runbook}`, '');
  out.push('## Summary', '');
  out.push(`- Status: ${resolved ? '✅ RESOLVED' : r.status === 'interrupted' ? '⚠️ INTERRUPTED' : '🚨 NOT RESOLVED'} (${r.status}, exit ${r.exitCode})`);
  out.push(`- Runbook: \`${r.runbook}\` (run \`${r.runId}\`)`);
  out.push(`- Started: ${hhmmss(r.startedAt)}`);
  out.push(`- Ended: ${hhmmss(r.endedAt)}`);
  out.push(`- Duration: ${formatDuration(r.durationMs)}`);
  if (r.description) out.push(`- Procedure: ${r.description}`);
  out.push('', '## Timeline', '', '| Time (UTC) | Event |', '|---|---|');
  for (const s of r.steps) {
    if (s.status === 'skipped') {
      out.push(`| | ${s.id}: skipped (${cell(s.reason ?? '')}) |`);
      continue;
    }
    out.push(`| ${hhmmss(s.startedAt)} | ${s.id} started (${s.uses}) |`);
    if (s.uses === 'manual.confirm' && s.status === 'succeeded') out.push(`| ${hhmmss(String(s.outputs.at ?? s.endedAt))} | confirmed by **${cell(String(s.outputs.by ?? '?'))}** |`);
    if (s.uses === 'manual.note' && s.status === 'succeeded') out.push(`| ${hhmmss(String(s.outputs.at ?? s.endedAt))} | note: ${cell(String(s.outputs.note ?? ''))} |`);
    const how = s.status === 'succeeded' ? 'done' : s.status === 'canceled' ? 'interrupted' : `FAILED: ${cell(s.reason ?? '')}`;
    out.push(`| ${hhmmss(s.endedAt)} | ${s.id} ${how} after ${formatDuration(s.durationMs)}${s.attempts > 1 ? ` (${s.attempts} tries)` : ''} |`);
  }
  out.push('', '## Impact', '');
  const m = r.measured;
  const target = r.targets.rtoMs !== undefined ? ` against a target of ${formatDuration(r.targets.rtoMs)}` : '';
  if (!wasRecovered(r) || m?.rtoMs === undefined) out.push(`- Recovery time (RTO achieved): not recovered (the run ${r.status} after ${formatDuration(r.durationMs)})${target}`);
  else out.push(`- Recovery time (RTO achieved): ${formatDuration(m.rtoMs)}${target}`);
  if (wasRecovered(r) && m?.recoveryPoint) out.push(`- Data recovered up to: ${hhmmss(m.recoveryPoint)}; data lost (RPO achieved): ${m.rpoMs === undefined ? 'n/a' : formatDuration(m.rpoMs)}${r.targets.rpoMs !== undefined ? ` against a target of ${formatDuration(r.targets.rpoMs)}` : ''}`);
  for (const v of truthfulVerdicts(r).filter((x) => !x.met)) out.push(`- ${verdictLine(v)}`);
  const failed = r.steps.filter((s) => s.status === 'failed');
  out.push('', '## Follow-ups (postmortem within 48 hours)', '');
  if (!failed.length && truthfulVerdicts(r).every((v) => v.met)) out.push('- [ ] Review the timeline and confirm nothing was missed');
  for (const s of failed) out.push(`- [ ] ${s.id}: ${s.reason ?? 'failed'}`);
  for (const s of r.steps.filter((x) => x.overBudget)) out.push(`- [ ] ${s.id} took ${formatDuration(s.durationMs)}, over its ${formatDuration(s.budgetMs ?? 0)} budget`);
  out.push('');
  return out.join('\n');
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
