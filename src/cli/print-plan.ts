import type { MissingInput } from '../engine/inputs.js';
import type { RunPlan } from '../engine/plan.js';
import { formatDuration } from '../time/duration.js';

// `drctl plan` and `--dry-run`: the resolved steps with their limits. Touches nothing.

/** The plan as text; `missing` lists the required inputs nobody gave (shown, never guessed). */
export function formatPlan(p: RunPlan, missing: MissingInput[] = []): string {
  const lines: string[] = [];
  lines.push(`Runbook ${p.runbook}${p.description ? ` — ${p.description}` : ''}`);
  const targets = [p.rtoMs !== undefined ? `RTO ${formatDuration(p.rtoMs)}` : '', p.rpoMs !== undefined ? `RPO ${formatDuration(p.rpoMs)}` : '']
    .filter(Boolean)
    .join(', ');
  if (targets) lines.push(`Targets: ${targets}`);
  const inputs = Object.entries(p.inputs).filter(([, v]) => v !== undefined);
  if (inputs.length) lines.push(`Inputs: ${inputs.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ')}`);
  if (missing.length) {
    const how = missing.map((m) => `--var ${m.name}=...${m.env ? ` (or set ${m.env})` : ''}`).join(', ');
    lines.push(`MISSING required input${missing.length > 1 ? 's' : ''}: ${missing.map((m) => m.name).join(', ')} (a run refuses to start without ${missing.length > 1 ? 'them' : 'it'}; pass ${how})`);
  }
  let n = 0;
  let section = '';
  for (const s of p.steps) {
    if (s.section !== section) {
      section = s.section;
      lines.push('', section === 'steps' ? 'Steps:' : 'Finally (always run):');
    }
    n++;
    lines.push(`  ${String(n).padStart(2)}. ${s.id} (${s.uses})`);
    lines.push(`      ${s.description}`);
    if (s.unresolved?.length) lines.push(`      unresolved: ${s.unresolved.join(', ')}`);
    const limits = [
      s.if !== undefined ? `if ${String(s.if)}` : '',
      s.timeoutMs !== undefined ? `timeout ${formatDuration(s.timeoutMs)}` : '',
      s.attempts > 1 ? `${s.attempts} tries, backoff ${formatDuration(s.backoffMs)}` : '',
      s.budgetMs !== undefined ? `budget ${formatDuration(s.budgetMs)}${s.budgetEnforced ? ' (enforced)' : ''}` : '',
      s.onFailure !== 'abort' ? `on failure: ${s.onFailure}` : '',
      s.critical ? '' : 'not critical',
    ].filter(Boolean);
    if (limits.length) lines.push(`      ${limits.join(' · ')}`);
  }
  return `${lines.join('\n')}\n`;
}
