import { OperationError } from '../errors.js';
import { formatDuration, parseDuration } from '../time/duration.js';

// A managed database's recovery window against what the team promised: its latest point is
// recent enough (the RPO), its earliest reaches back far enough (the retention).

export interface WindowPromise {
  maxAge?: string;
  retention?: string;
}

/** Problems with a window; none when it keeps the promise. */
export function windowProblems(start: Date | undefined, end: Date | undefined, p: WindowPromise, now = Date.now()): string[] {
  const problems: string[] = [];
  if (p.maxAge !== undefined) {
    const max = parseDuration(p.maxAge, 'maxAge');
    if (!end) problems.push('no recovery point at all');
    else if (now - end.getTime() > max) problems.push(`latest recovery point ${end.toISOString()} is ${formatDuration(now - end.getTime())} old (max ${p.maxAge})`);
  }
  if (p.retention !== undefined) {
    const want = parseDuration(p.retention, 'retention');
    if (!start) problems.push('no recovery window');
    else if (now - start.getTime() < want) problems.push(`earliest recovery point ${start.toISOString()} reaches back ${formatDuration(now - start.getTime())}, less than the ${p.retention} promised`);
  }
  return problems;
}

/** The one line that refuses a target outside the window, before anything was changed. */
export function outsideWindow(what: string, target: Date, start: Date, end: Date): OperationError {
  const e = new OperationError(
    'pitr.outsideWindow',
    `${what}: ${target.toISOString()} is outside the recovery window ${start.toISOString()} … ${end.toISOString()}; nothing was changed`,
  );
  e.retryable = false;
  return e;
}
