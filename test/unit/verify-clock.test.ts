import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { builtInRegistry } from '../../src/adapters/registry.js';
import type { ActionContext } from '../../src/adapters/types.js';
import { verifyRepository, type VerifyRunOptions } from '../../src/adapters/repo/verify/run-verify.js';
import { Repository } from '../../src/repository/repository.js';
import { fixedClock } from '../../src/time/clock.js';

// verify-backups judges a backup's age by the clock it is given: a stale backup is a clock set
// past --max-age, not a test that waits for real time to pass.

const STOPPED = Date.parse('2026-11-25T09:00:00.000Z');
const kinds = builtInRegistry().kinds;
const ctx = { signal: new AbortController().signal, log: () => {}, backupKinds: kinds } as unknown as ActionContext;
const options = (now: number): VerifyRunOptions => ({ maxAgeMs: 1000, walMaxAgeMs: 1000, all: false, testRestore: false, sizeBand: 0.5, rowTolerance: 0.1, criticalTables: [], databases: [], clock: fixedClock(now) });

async function repoWithOneBackup(): Promise<{ repo: Repository; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'verify-clock-'));
  const repo = await Repository.open(`file://${dir}`, { env: {}, config: {} }, { create: true, kinds: kinds.keys(), notice: () => {} });
  const at = new Date(STOPPED);
  const id = await repo.newBackupId('env', at);
  const entry = await repo.writeObject(id, 'env', Readable.from([Buffer.from('A=1\n')]));
  await repo.commit({ id, kind: 'env', source: {}, startedAt: at.toISOString(), stoppedAt: at.toISOString(), durationMs: 0, recoveryPoint: at.toISOString(), objects: [entry] });
  return { repo, dir };
}

describe('verify-backups and the clock', () => {
  it('a backup older than --max-age by the clock fails backup-age, and only that', async () => {
    const { repo } = await repoWithOneBackup();
    const r = await verifyRepository(ctx, repo, options(STOPPED + 2000));
    expect(r.ok).toBe(false);
    expect(r.checks.filter((c) => c.status === 'fail')).toEqual([{ name: 'backup-age', status: 'fail', figure: 'age 2.0s (max 1.0s): stale', backup: r.newest?.id }]);
  });

  it('the same backup younger than --max-age passes, and the result is recorded under the clock\'s instant', async () => {
    const { repo, dir } = await repoWithOneBackup();
    const r = await verifyRepository(ctx, repo, options(STOPPED + 500));
    expect(r.ok).toBe(true);
    expect(r.checks.find((c) => c.name === 'backup-age')).toMatchObject({ status: 'pass', figure: 'age 500ms (max 1.0s)' });
    expect(r.startedAt).toBe('2026-11-25T09:00:00.500Z');
    expect(readdirSync(path.join(dir, 'history', 'verify'))).toEqual([expect.stringMatching(/^20261125T090000Z-[0-9a-f]{4}\.json$/)]);
  });
});
