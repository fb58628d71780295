import type { EngineEvent } from '../engine/events.js';
import type { RunReport } from '../engine/step-result.js';
import { formatDuration } from '../time/duration.js';
import type { Reporter } from './reporter.js';
import { truthfulVerdicts, verdictLine } from './verdicts.js';

// --quiet, for cron: nothing at all while the run goes well, so cron mails only when there is
// something to act on; when it fails or misses a target, the failures and nothing else.

export class QuietReporter implements Reporter {
  constructor(private readonly out: NodeJS.WritableStream) {}

  onEvent(e: EngineEvent): void {
    if (e.type === 'run.end' && e.report.exitCode !== 0) this.out.write(failureSummary(e.report));
  }

  async close(): Promise<void> {}
}

/** The failed steps, missed targets and interruption of a run, one line each. */
export function failureSummary(r: RunReport): string {
  const lines = [`${r.status.toUpperCase()} ${r.runbook} in ${formatDuration(r.durationMs)} (exit ${r.exitCode})`];
  for (const s of r.steps) {
    if (s.status !== 'failed') continue;
    lines.push(`  ${s.id} failed${s.critical ? '' : ' (not critical)'}: ${s.reason ?? 'no reason given'}`);
  }
  for (const v of truthfulVerdicts(r)) if (!v.met) lines.push(`  ${verdictLine(v)}`);
  if (r.interruptedStep) lines.push(`  interrupted during step "${r.interruptedStep}"`);
  return `${lines.join('\n')}\n`;
}
