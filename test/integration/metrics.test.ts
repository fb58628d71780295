import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/engine/step-result.js';
import { parseTextfile, writeMetricsFile, type Sample } from '../../src/prometheus-textfile.js';
import { runMetrics } from '../../src/report/metrics.js';
import { drctl, tempDir } from '../support/cli.js';

// Prometheus textfiles from verify-backups and drill (backup shares drill's run metrics), in
// prom-client's text format: label values escaped and read back intact; the last-success
// timestamp survives a failed check, and a verification that cannot run at all.

const FIXTURE = path.resolve(import.meta.dirname, '..', 'fixtures', 'runbooks', 'quick-drill.yaml');
const KEY = 'metrics-test-key-canary';
const OLD_SUCCESS = 1_700_000_000;

let root: string;
beforeAll(() => {
  root = tempDir('drctl-metrics-');
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const read = (file: string) => parseTextfile(readFileSync(file, 'utf8'));
const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('Prometheus textfiles', () => {
  it('label values are escaped in the text format, not replaced, and read back intact', async () => {
    const file = path.join(root, 'escape.prom');
    const odd = 's3://bucket/a "quoted" \\ path\nsecond line';
    await writeMetricsFile(file, (m) => m.gauge('drctl_verify_ok', 'help', { repo: odd }, 1));
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('drctl_verify_ok{repo="s3://bucket/a \\"quoted\\" \\\\ path\\nsecond line"} 1');
    expect(read(file)).toEqual([{ name: 'drctl_verify_ok', labels: { repo: odd }, value: 1 }]);
  });

  it('verify-backups: the last-success timestamp keeps its value when a check fails, and when verification cannot run', async () => {
    const repo = `file://${path.join(root, 'repo')}`;
    const file = path.join(root, 'verify.prom');
    const env = { DRCTL_ENCRYPTION_KEY: KEY, DRCTL_STATE_DIR: path.join(root, 'state') };
    writeFileSync(path.join(root, 'app.env'), 'A=1\n');
    const b = await drctl(['--log-level', 'error', 'run', 'env-backup', '--var', `file=${path.join(root, 'app.env')}`, '--var', `repo=${repo}`], { env });
    expect(b.code).toBe(0);

    const ok = await drctl(['--log-level', 'error', 'verify-backups', '--repo', repo, '--metrics-file', file], { env });
    expect(ok.code).toBe(0);
    let samples = read(file);
    const label = samples.find((s) => s.name === 'drctl_verify_ok')!.labels;
    expect(label.repo).toBe(repo);
    expect(value(samples, 'drctl_verify_ok')).toBe(1);
    const success = value(samples, 'drctl_verify_last_success_timestamp_seconds')!;
    expect(Math.abs(success - Date.now() / 1000)).toBeLessThan(600);
    expect(value(samples, 'drctl_verify_check_ok', { check: 'checksums' })).toBe(1);

    // An older success, as if the last good run were long ago: a failed run must keep it.
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^(drctl_verify_last_success_timestamp_seconds\{[^}]*\}) \d+$/m, `$1 ${OLD_SUCCESS}`));
    const stale = await drctl(['--log-level', 'error', 'verify-backups', '--repo', repo, '--metrics-file', file, '--max-age', '1ms'], { env });
    expect(stale.code).toBe(1);
    samples = read(file);
    expect(value(samples, 'drctl_verify_ok')).toBe(0);
    expect(value(samples, 'drctl_verify_check_ok', { check: 'backup-age' })).toBe(0);
    expect(value(samples, 'drctl_verify_last_success_timestamp_seconds')).toBe(OLD_SUCCESS);
    expect(value(samples, 'drctl_verify_last_timestamp_seconds')).toBeGreaterThan(OLD_SUCCESS);

    // No repository at all: still a failure in the file, still the same last success.
    const gone = await drctl(['--log-level', 'error', 'verify-backups', '--repo', `file://${path.join(root, 'no-repo')}`, '--metrics-file', file], { env });
    expect(gone.code).toBe(1);
    samples = read(file);
    expect(value(samples, 'drctl_verify_ok', { repo })).toBe(0);
    expect(value(samples, 'drctl_verify_last_success_timestamp_seconds', { repo })).toBe(OLD_SUCCESS);
  });

  it('drill: run, step and RTO metrics; the last success survives a failed drill', async () => {
    const file = path.join(root, 'drill.prom');
    const env = { DRCTL_STATE_DIR: path.join(root, 'drill-state') };
    const first = await drctl(['--log-level', 'error', 'drill', FIXTURE, '--metrics-file', file], { env });
    expect(first.code).toBe(0);
    let samples = read(file);
    const labels = { runbook: 'quick-drill' };
    expect(value(samples, 'drctl_run_success', labels)).toBe(1);
    expect(value(samples, 'drctl_drill_rto_seconds', labels)).toBeGreaterThan(0.2);
    expect(value(samples, 'drctl_drill_target_seconds', { objective: 'rto' })).toBe(300);
    expect(samples.filter((s) => s.name === 'drctl_step_duration_seconds').map((s) => s.labels.step)).toEqual(['prepare', 'lose-primary', 'restore', 'validate']);
    expect(value(samples, 'drctl_run_last_success_timestamp_seconds', labels)).toBeGreaterThan(OLD_SUCCESS);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^(drctl_run_last_success_timestamp_seconds\{[^}]*\}) \d+$/m, `$1 ${OLD_SUCCESS}`));

    const failed = await drctl(['--log-level', 'error', 'drill', FIXTURE, '--var', 'fail=true', '--metrics-file', file], { env });
    expect(failed.code).toBe(1);
    samples = read(file);
    expect(value(samples, 'drctl_run_success', labels)).toBe(0);
    expect(value(samples, 'drctl_run_exit_code', labels)).toBe(1);
    expect(value(samples, 'drctl_step_success', { step: 'validate' })).toBe(0);
    expect(value(samples, 'drctl_run_last_success_timestamp_seconds', labels)).toBe(OLD_SUCCESS);
  });

  it('backup: the backup step\'s sizes are exported beside the run metrics', async () => {
    const at = '2026-11-25T02:00:00.000Z';
    const report = {
      runId: 'r1', runbook: 'backup', file: 'runbooks/backup.yaml', kind: 'run', dryRun: false, status: 'succeeded',
      startedAt: at, endedAt: '2026-11-25T02:01:00.000Z', durationMs: 60_000, inputs: {}, targets: {},
      measured: { disasterAt: at, recoveredAt: at, rtoMs: 60_000 }, verdicts: [], exitCode: 0,
      steps: [{ id: 'backup', uses: 'postgres.backup', section: 'steps', status: 'succeeded', durationMs: 59_000, attempts: 1, timedOut: false, canceled: false, critical: true, overBudget: false, outputs: { backupId: 'b1', bytes: 1000, storedBytes: 400 } }],
    } satisfies RunReport;
    const file = path.join(root, 'backup.prom');
    await writeMetricsFile(file, runMetrics(report));
    const samples = read(file);
    expect(value(samples, 'drctl_backup_size_bytes', { step: 'backup' })).toBe(1000);
    expect(value(samples, 'drctl_backup_stored_bytes', { step: 'backup' })).toBe(400);
    expect(value(samples, 'drctl_run_last_success_timestamp_seconds', { runbook: 'backup', kind: 'run' })).toBe(Date.parse('2026-11-25T02:01:00.000Z') / 1000);
  });
});
