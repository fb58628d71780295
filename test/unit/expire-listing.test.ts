import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { expire } from '../../src/pitr/expire.js';
import { Repository } from '../../src/repository/repository.js';
import type { Storage } from '../../src/repository/storage.js';

// `backups expire --confirm` removes backups without a manifest (crashed ones) once they are
// older than the grace period. A listing that leaves the manifest of a finished backup out (an
// S3-compatible store whose listing lags, an NFS stat that fails) must not get that backup
// deleted: the manifest is asked for by name, under the lock, before anything is removed.

const SIX_HOURS = 6 * 3600_000;

async function repository(): Promise<{ dir: string; repo: Repository }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'expire-listing-'));
  const repo = await Repository.open(`file://${dir}`, { env: {}, config: {} }, { create: true, kinds: ['logical'], notice: () => {} });
  return { dir, repo };
}

/** A finished backup (data, then manifest), its files dated a day back. */
async function finishedBackup(repo: Repository, dir: string, at: Date): Promise<string> {
  const id = await repo.newBackupId('logical', at);
  const entry = await repo.writeObject(id, 'dump.pgc', Readable.from([Buffer.from(`dump of ${id}`)]));
  const t = at.toISOString();
  await repo.commit({ id, kind: 'logical', source: { database: 'app' }, startedAt: t, stoppedAt: t, durationMs: 0, recoveryPoint: t, objects: [entry] });
  age(dir, id, at);
  return id;
}

/** Data without a manifest: what a backup killed halfway leaves. */
async function crashedBackup(repo: Repository, dir: string, at: Date): Promise<string> {
  const id = await repo.newBackupId('logical', at);
  await repo.writeObject(id, 'dump.pgc', Readable.from([Buffer.from('half a dump')]));
  age(dir, id, at);
  return id;
}

function age(dir: string, id: string, at: Date): void {
  const root = path.join(dir, 'backups', id);
  for (const f of readdirSync(root, { recursive: true }) as string[]) utimesSync(path.join(root, f), at, at);
}

/** The repository's storage, but its listings leave out the manifests of `hidden` backups. */
function laggingListing(repo: Repository, hidden: string[]): void {
  const real: Storage = repo.storage;
  const lagging: Storage = {
    location: real.location,
    put: (k, b, o) => real.put(k, b, o),
    get: (k, o) => real.get(k, o),
    stat: (k) => real.stat(k),
    remove: (k) => real.remove(k),
    list: async (prefix) => (await real.list(prefix)).filter((o) => !hidden.some((id) => o.key === `backups/${id}/manifest.json`)),
  };
  Object.assign(repo, { storage: lagging });
}

describe('expire and a listing that misses a manifest', () => {
  it('keeps a finished backup listed without its manifest, and removes the really incomplete one', async () => {
    const { dir, repo } = await repository();
    const dayAgo = new Date(Date.now() - 24 * 3600_000);
    const finished = await finishedBackup(repo, dir, dayAgo);
    const crashed = await crashedBackup(repo, dir, new Date(dayAgo.getTime() + 60_000));
    laggingListing(repo, [finished]);

    const { plan } = await expire(repo, {}, SIX_HOURS, { confirm: true });

    expect(plan.orphans.map((o) => o.id)).toEqual([crashed]);
    expect(plan.notOrphans).toEqual([{ id: finished, why: 'its manifest exists, though the listing did not show it' }]);
    expect(existsSync(path.join(dir, 'backups', finished, 'manifest.json'))).toBe(true);
    expect(existsSync(path.join(dir, 'backups', finished, 'data', 'dump.pgc'))).toBe(true);
    expect(existsSync(path.join(dir, 'backups', crashed))).toBe(false);
    expect(existsSync(path.join(dir, 'locks', 'repo.lock'))).toBe(false);
  });

  it('removing an orphan whose manifest has appeared since removes nothing', async () => {
    const { dir, repo } = await repository();
    const at = new Date(Date.now() - 24 * 3600_000);
    const id = await repo.newBackupId('logical', at);
    const entry = await repo.writeObject(id, 'dump.pgc', Readable.from([Buffer.from('late commit')]));
    const t = at.toISOString();
    await repo.commit({ id, kind: 'logical', source: { database: 'app' }, startedAt: t, stoppedAt: t, durationMs: 0, recoveryPoint: t, objects: [entry] });

    expect(await repo.removeOrphan(id)).toBe(false);
    expect(readdirSync(path.join(dir, 'backups', id), { recursive: true }).sort()).toEqual(['data', 'data/dump.pgc', 'manifest.json']);
  });

  it('a file listing fails on an entry it cannot stat instead of leaving it out, and expire then removes nothing', async () => {
    const { dir, repo } = await repository();
    const id = await finishedBackup(repo, dir, new Date(Date.now() - 24 * 3600_000));
    // A symlink to itself fails stat with ELOOP: an error other than "gone", like ESTALE or
    // EIO on NFS, that says nothing about whether the object is there.
    symlinkSync('loop', path.join(dir, 'backups', id, 'loop'));

    await expect(repo.storage.list('backups/')).rejects.toThrow(/ELOOP/);
    await expect(expire(repo, { keepLast: 1 }, SIX_HOURS, { confirm: true })).rejects.toThrow(/ELOOP/);
    expect(existsSync(path.join(dir, 'backups', id, 'manifest.json'))).toBe(true);
    expect(existsSync(path.join(dir, 'locks', 'repo.lock'))).toBe(false);
  });

  it('removes the empty directories a writer killed before it opened its file left, once past the grace', async () => {
    const { dir, repo } = await repository();
    const id = await finishedBackup(repo, dir, new Date(Date.now() - 24 * 3600_000));
    const dayAgo = new Date(Date.now() - 24 * 3600_000);
    const old = path.join(dir, 'backups', '20261101T000000Z-logical', 'data');
    mkdirSync(old, { recursive: true });
    utimesSync(old, dayAgo, dayAgo);
    utimesSync(path.dirname(old), dayAgo, dayAgo);
    // A running backup's directory, just made: not touched.
    const fresh = path.join(dir, 'backups', '20261102T000000Z-logical', 'data');
    mkdirSync(fresh, { recursive: true });

    const dry = await expire(repo, {}, SIX_HOURS, { confirm: false });
    expect(dry.plan.emptyDirs).toEqual(['backups/20261101T000000Z-logical/data/', 'backups/20261101T000000Z-logical/']);
    expect(existsSync(old)).toBe(true);
    await expire(repo, {}, SIX_HOURS, { confirm: true });
    expect(readdirSync(path.join(dir, 'backups')).sort()).toEqual([id, '20261102T000000Z-logical'].sort());
  });
});
