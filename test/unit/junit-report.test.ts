import { describe, expect, it } from 'vitest';
import { junitReport } from '../../src/report/junit.js';

// CI reads a drill's JUnit file: every objective the run missed must be a failed test case.

function report(verdicts: unknown[], status = 'succeeded', exitCode = 3) {
  return {
    runId: 'r1',
    runbook: 'restore-drill',
    status,
    exitCode,
    startedAt: '2026-12-03T10:00:00.000Z',
    durationMs: 90_000,
    steps: [{ id: 'restore', uses: 'postgres.restore', status: status === 'succeeded' ? 'succeeded' : 'failed', durationMs: 80_000, reason: status === 'succeeded' ? undefined : 'pg_restore failed' }],
    measured: { recovered: status === 'succeeded' },
    verdicts,
  } as never;
}

describe('JUnit report', () => {
  it('an RPO missed while the RTO was met is a failure CI shows red', () => {
    const xml = junitReport(report([
      { name: 'rto', targetMs: 600_000, achievedMs: 80_000, met: true },
      { name: 'rpo', targetMs: 300_000, achievedMs: 900_000, met: false },
    ]));
    expect(xml).toContain('failures="1"');
    expect(xml).toMatch(/<testcase classname="restore-drill" name="RTO" time="80.000"\/>/);
    expect(xml).toMatch(/<testcase classname="restore-drill" name="RPO" time="0.000">\n {6}<failure message="RPO missed: 900000 ms &gt; 300000 ms" type="rpo">/);
  });

  it('a run that recovered nothing fails both objectives, and its step', () => {
    const xml = junitReport(report([
      { name: 'rto', targetMs: 600_000, achievedMs: 80_000, met: true },
      { name: 'rpo', targetMs: 300_000, achievedMs: 1_000, met: true },
    ], 'failed', 1));
    expect(xml).toContain('failures="3"');
    expect(xml).toContain('RTO not met: the run failed, nothing was recovered (target 600000 ms)');
    expect(xml).toContain('RPO not met: the run failed, nothing was recovered (target 300000 ms)');
  });
});
