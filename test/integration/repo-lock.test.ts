import { rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrctlError } from '../../src/errors.js';
import { acquireLock, LOCK_KEY, readLock, type RepoLock } from '../../src/repository/lock.js';
import { openStorage } from '../../src/repository/open-storage.js';
import { Repository } from '../../src/repository/repository.js';
import type { Storage } from '../../src/repository/storage.js';
import { tempDir } from '../support/cli.js';
import { startS3, type S3Server } from '../support/s3.js';

// The lock protocol itself, against both real drivers: a directory on disk and an S3 server
// (moto), with several takers racing in one process (their I/O interleaves for real).

const quiet = { log: () => {} };

async function race(storage: Storage, n: number, o: { staleMs?: number } = {}): Promise<{ won: RepoLock[]; lost: unknown[] }> {
  const results = await Promise.allSettled(Array.from({ length: n }, () => acquireLock(storage, 'backup', { ...quiet, ...o })));
  return {
    won: results.filter((r): r is PromiseFulfilledResult<RepoLock> => r.status === 'fulfilled').map((r) => r.value),
    lost: results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown),
  };
}

/** A lock from another host whose refresh time says `ageMs` ago (negative: its clock runs ahead). */
function foreignLock(storage: Storage, ageMs: number, token = 'f'): Promise<void> {
  const at = new Date(Date.now() - ageMs).toISOString();
  const body = JSON.stringify({ token: token.repeat(32), host: 'gone-host', pid: 1, purpose: 'backup', acquiredAt: at, refreshedAt: at });
  return storage.put(LOCK_KEY, Readable.from([Buffer.from(body)]));
}

/** The store's clock must also see the lock as old: its write time has 1 s resolution on S3. */
const pastStale = () => new Promise((r) => setTimeout(r, 1100));

describe.each(['file', 's3'] as const)('repository lock on %s storage', (kind) => {
  let s3: S3Server | undefined;
  let dir: string | undefined;
  let storage: Storage;
  beforeAll(async () => {
    if (kind === 's3') {
      s3 = await startS3();
      await s3.createBucket('drctl-lock');
      storage = await openStorage('s3://drctl-lock/repo', { env: s3.env, config: {} });
    } else {
      dir = tempDir('drctl-lock-unit-');
      storage = await openStorage(`file://${dir}`, { env: {}, config: {} });
    }
  });
  afterAll(async () => {
    await s3?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('of six concurrent takers exactly one holds it; the others fail naming the holder', async () => {
    const { won, lost } = await race(storage, 6);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(5);
    for (const e of lost) {
      expect((e as DrctlError).code).toBe('repo.locked');
      expect((e as Error).message).toContain(`pid ${process.pid} for backup`);
    }
    expect((await readLock(storage))?.token).toBe(won[0]!.info.token);
    await won[0]!.release();
    expect(await readLock(storage)).toBeUndefined();
  });

  it('a stale lock raced for by six takers: exactly one takes it over', async () => {
    await foreignLock(storage, 10 * 60_000);
    await pastStale();
    const { won, lost } = await race(storage, 6, { staleMs: 1000 });
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(5);
    await won[0]!.release();
    expect((await storage.list('locks/')).map((o) => o.key)).toEqual([]);
  });

  it('an unreadable lock is judged by when it was written: live while young, taken over once stale', async () => {
    await storage.put(LOCK_KEY, Readable.from([Buffer.from('\u0000garbage, not JSON')]));
    const held = await readLock(storage);
    expect(held?.purpose).toBe('unknown (unreadable lock)');
    expect(Math.abs(held!.mtime!.getTime() - Date.now())).toBeLessThan(60_000);
    await expect(acquireLock(storage, 'backup', quiet)).rejects.toMatchObject({ code: 'repo.locked' });
    await new Promise((r) => setTimeout(r, 1100));
    const lines: string[] = [];
    const lock = await acquireLock(storage, 'backup', { staleMs: 1000, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/took over a stale repository lock .*unreadable and \d/);
    await lock.release();
    expect(await readLock(storage)).toBeUndefined();
  });

  it('judges another host’s lock by when the store last saw it written, not by that host’s clock alone', async () => {
    // A holder whose clock runs 6 minutes slow, refreshing right now: live.
    await foreignLock(storage, 6 * 60_000, 'a');
    await expect(acquireLock(storage, 'backup', quiet)).rejects.toMatchObject({ code: 'repo.locked' });
    // A holder whose clock ran 3 hours ahead, gone since its last write: stale once the store's
    // time says so, not 3 hours later. (S3 gives the write time in whole seconds, which can
    // make a lock look up to a second older than it is: 3 s of staleness leave room for that.)
    await foreignLock(storage, -3 * 3600_000, 'b');
    await expect(acquireLock(storage, 'backup', { ...quiet, staleMs: 3000 })).rejects.toMatchObject({ code: 'repo.locked' });
    await new Promise((r) => setTimeout(r, 3100));
    const lines: string[] = [];
    const lock = await acquireLock(storage, 'backup', { staleMs: 3000, log: (l) => lines.push(l) });
    await lock.release();
    expect(lines.join('\n')).toMatch(/took over a stale repository lock .*not rewritten for [\d.]+s \(its holder's clock runs (2h59m|3h00m) ahead\)/);
  });

  it('a process whose lock was taken over stops before it commits or removes anything', async () => {
    const repo = await Repository.open(kind === 's3' ? 's3://drctl-lock/repo-lost' : `file://${dir}/repo-lost`, kind === 's3' ? { env: s3!.env, config: {} } : { env: {}, config: {} }, { create: true, kinds: ['logical'] });
    const release = await repo.lock('expire', { ...quiet, refreshMs: 3_600_000 });
    await foreignLock(repo.storage, 0, 'c');
    await expect(repo.removeBackup('20260101T000000Z-logical')).rejects.toMatchObject({ code: 'repo.lockLost' });
    await release();
    expect((await readLock(repo.storage))?.token).toBe('c'.repeat(32));
    await repo.storage.remove(LOCK_KEY);
  });

  it('is refreshed while held, and released', async () => {
    const lock = await acquireLock(storage, 'backup', { ...quiet, refreshMs: 50 });
    const first = lock.info.refreshedAt;
    for (let i = 0; i < 500 && (await readLock(storage))?.refreshedAt === first; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await readLock(storage))?.refreshedAt).not.toBe(first);
    await lock.release();
    expect(await readLock(storage)).toBeUndefined();
  });

  it('a holder whose lock was taken over is told (signal) at its next refresh and does not remove the new one', async () => {
    const lock = await acquireLock(storage, 'backup', { ...quiet, refreshMs: 3_600_000 });
    const now = new Date().toISOString();
    const other = JSON.stringify({ token: 'e'.repeat(32), host: 'other', pid: 9, purpose: 'expire', acquiredAt: now, refreshedAt: now });
    await storage.put(LOCK_KEY, Readable.from([Buffer.from(other)]));
    await lock.refresh();
    expect(lock.signal.aborted).toBe(true);
    expect((lock.signal.reason as DrctlError).code).toBe('repo.lockLost');
    expect(lock.lost).toContain('taken over by host other pid 9 for expire');
    await lock.release();
    expect((await readLock(storage))?.token).toBe('e'.repeat(32));
    await storage.remove(LOCK_KEY);
  });
});
