import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { expire, planExpire, type ExpirePlan } from '../../src/pitr/expire.js';
import { listWal } from '../../src/pitr/wal-archive.js';
import type { Repository } from '../../src/repository/repository.js';
import { archive, base, day, seg, walRepository } from '../support/wal-repository.js';

// `backups expire --backup <id>`: the backups named go, also the last of a database, and with a
// base backup only the WAL that no remaining base backup needs: everything from the oldest
// remaining base backup's start on stays, whichever cluster it is of.

const GRACE = 6 * 3600_000;
const ALL = { keepLast: Number.MAX_SAFE_INTEGER };

async function removedWal(repo: Repository, plan: ExpirePlan): Promise<string[]> {
  return (await listWal(repo)).filter((w) => plan.wal.keys.includes(w.key)).map((w) => w.name).sort();
}

async function refusal(p: Promise<unknown>): Promise<UsageError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  return err as UsageError;
}

async function dump(repo: Repository, database: string, at: Date): Promise<string> {
  const id = await repo.newBackupId('logical', at);
  const entry = await repo.writeObject(id, 'dump.pgc', Readable.from([Buffer.from(`dump of ${id}`)]));
  const t = at.toISOString();
  await repo.commit({ id, kind: 'logical', source: { host: 'db', port: 5432, database }, startedAt: t, stoppedAt: t, durationMs: 0, recoveryPoint: t, objects: [entry] });
  return id;
}

describe('expire --backup, one cluster', () => {
  it('removing the older base backup: the WAL from the newer one on stays, and nothing is noted', async () => {
    const repo = await walRepository('expire-named-older-');
    const b1 = await base(repo, '111', day(1), 2, 3);
    const b2 = await base(repo, '111', day(2), 6, 7);
    await archive(repo, [1, 2, 3, 4, 5, 6, 7, 8]);
    const plan = await planExpire(repo, { ...ALL, remove: [b1] }, GRACE, day(3));
    expect(plan.remove).toEqual([{ id: b1, why: 'named with --backup' }]);
    expect(plan.keep.map((k) => k.id)).toEqual([b2]);
    expect(await removedWal(repo, plan)).toEqual([1, 2, 3, 4, 5].map(seg));
    expect(plan.notes).toEqual([]);
  });

  it('removing the newer base backup: the older one keeps all the WAL from its start on', async () => {
    const repo = await walRepository('expire-named-newer-');
    const b1 = await base(repo, '111', day(1), 2, 3);
    const b2 = await base(repo, '111', day(2), 6, 7);
    await archive(repo, [1, 2, 3, 4, 5, 6, 7, 8]);
    const plan = await planExpire(repo, { ...ALL, remove: [b2] }, GRACE, day(3));
    expect(plan.keep.map((k) => k.id)).toEqual([b1]);
    expect(await removedWal(repo, plan)).toEqual([seg(1)]);
    expect(plan.notes).toEqual([]);
  });

  it('removing its only base backup: noted, and the WAL stays (expire removes WAL only below a kept base backup)', async () => {
    const repo = await walRepository('expire-named-only-');
    const b1 = await base(repo, '111', day(1), 2, 3);
    await archive(repo, [1, 2, 3, 4]);
    const plan = await planExpire(repo, { ...ALL, remove: [b1] }, GRACE, day(3));
    expect(plan.remove.map((r) => r.id)).toEqual([b1]);
    expect(plan.wal.keys).toEqual([]);
    expect(plan.notes).toEqual([
      `${b1} is the last base backup of cluster db:5432: point-in-time restore of it will no longer be possible`,
      'no base backup is left: expire removes no archived WAL until a base backup is kept again',
    ]);
  });
});

describe('expire --backup, several clusters', () => {
  it('the only base backup of a retired cluster: its start-to-stop WAL goes, the live cluster’s stays', async () => {
    // A replaced by B (pg_upgrade): B's WAL numbered on from A's.
    const repo = await walRepository('expire-named-retired-');
    const a = await base(repo, '111', day(1), 2, 3);
    const b1 = await base(repo, '222', day(2), 0x10, 0x11);
    const b2 = await base(repo, '222', day(3), 0x20, 0x21);
    await archive(repo, [1, 2, 3, 4, 0x10, 0x11, 0x20, 0x21, 0x25]);
    const plan = await planExpire(repo, { ...ALL, remove: [a] }, GRACE, day(4));
    expect(plan.keep.map((k) => k.id).sort()).toEqual([b1, b2].sort());
    expect(await removedWal(repo, plan)).toEqual([1, 2, 3, 4].map(seg));
    expect(plan.notes).toEqual([`${a} is the last base backup of cluster db:5432 (system 111): point-in-time restore of it will no longer be possible`]);
  });

  it('every base backup of the newer cluster (an upgrade given up): the older cluster counts as live again and keeps all its WAL', async () => {
    const repo = await walRepository('expire-named-rollback-');
    const m = await base(repo, '111', day(1), 2, 3);
    const x = await base(repo, '222', day(2), 0x10, 0x11);
    await archive(repo, [1, 2, 3, 4, 5, 0x10, 0x11]);
    const plan = await planExpire(repo, { ...ALL, remove: [x] }, GRACE, day(3));
    expect(plan.keep.map((k) => k.id)).toEqual([m]);
    expect(await removedWal(repo, plan)).toEqual([seg(1)]);
    expect(plan.notes).toHaveLength(1);
  });

  it('the newest base backup of a cluster that backs up beside another: its older base backup keeps all the WAL from its start on', async () => {
    // Z and N back up side by side. Without z2, Z's base backups end before N's begin: that must
    // not make Z look replaced, and its WAL after z1 (4..8) stays for PITR from z1.
    const repo = await walRepository('expire-named-side-');
    const z1 = await base(repo, '111', day(1), 2, 3);
    const n = await base(repo, '222', day(2), 0x20, 0x21);
    const z2 = await base(repo, '111', day(3), 6, 7);
    await archive(repo, [1, 2, 3, 4, 5, 6, 7, 8, 0x20, 0x21]);
    const plan = await planExpire(repo, { ...ALL, remove: [z2] }, GRACE, day(4));
    expect(plan.keep.map((k) => k.id).sort()).toEqual([z1, n].sort());
    expect(await removedWal(repo, plan)).toEqual([seg(1)]);
    expect(plan.notes).toEqual([]);
  });

  it('every base backup of the newest cluster: the others keep all the WAL from their oldest base backup on; naming a cluster gone for good frees its WAL', async () => {
    const repo = await walRepository('expire-named-three-');
    const x1 = await base(repo, '333', day(1), 0x40, 0x41);
    const z = await base(repo, '111', day(2), 2, 3);
    const y = await base(repo, '222', day(4), 0x20, 0x21);
    const x2 = await base(repo, '333', day(5), 0x44, 0x45);
    await archive(repo, [2, 3, 4, 5, 0x20, 0x21, 0x40, 0x41, 0x44, 0x45]);
    const some = await planExpire(repo, { ...ALL, remove: [x1, x2] }, GRACE, day(6));
    expect(some.keep.map((k) => k.id).sort()).toEqual([y, z].sort());
    expect(await removedWal(repo, some)).toEqual([]);

    // Z named too (it is gone for good): its WAL goes as far as Y does not need it; X's WAL,
    // numbered above Y's, cannot be told from WAL Y may need and stays.
    const all = await planExpire(repo, { ...ALL, remove: [x1, x2, z] }, GRACE, day(6));
    expect(all.keep.map((k) => k.id)).toEqual([y]);
    expect(await removedWal(repo, all)).toEqual([2, 3, 4, 5].map(seg));
    expect(all.notes).toEqual([
      `${x1}, ${x2} are the last base backups of cluster db:5432 (system 333): point-in-time restore of it will no longer be possible`,
      `${z} is the last base backup of cluster db:5432 (system 111): point-in-time restore of it will no longer be possible`,
    ]);
  });
});

describe('expire --backup, the ids', () => {
  it('refuses latest, an unknown id and an incomplete backup, each in one line naming the flag', async () => {
    const repo = await walRepository('expire-named-ids-');
    const a = await dump(repo, 'app', day(1));
    await repo.writeObject('20261101T000000Z-logical-9', 'dump.pgc', Readable.from([Buffer.from('half')]));
    for (const [id, words] of [
      ['latest', '--backup latest: expire removes backups only by their id'],
      ['20990101T000000Z-logical', '--backup 20990101T000000Z-logical: no such backup in file://'],
      ['../etc', '--backup ../etc: no such backup'],
      ['20261101T000000Z-logical-9', 'an incomplete backup'],
    ] as const) {
      const planned = await refusal(planExpire(repo, { ...ALL, remove: [a, id] }, GRACE, day(2)));
      expect(planned.message).toContain(words);
      const run = await refusal(expire(repo, { ...ALL, remove: [a, id] }, GRACE, { confirm: true }));
      expect(run.message).toContain(words);
      expect(run.exitCode).toBe(2);
    }
    expect((await repo.catalog()).backups.map((b) => b.id)).toEqual([a]);
  });

  it('named with --keep-last: the named go, and the count applies to the backups left', async () => {
    const repo = await walRepository('expire-named-count-');
    const [a1, a2, a3, a4] = [await dump(repo, 'app', day(1)), await dump(repo, 'app', day(2)), await dump(repo, 'app', day(3)), await dump(repo, 'app', day(4))];
    const billing = await dump(repo, 'billing', day(1));
    const plan = await planExpire(repo, { keepLast: 2, remove: [a4, billing] }, GRACE, day(5));
    expect(plan.remove).toEqual([
      { id: billing, why: 'named with --backup' },
      { id: a4, why: 'named with --backup' },
      { id: a1, why: 'not among the last 2 of app on db:5432' },
    ]);
    expect(plan.keep.map((k) => k.id).sort()).toEqual([a2, a3].sort());
    expect(plan.notes).toEqual([]);
  });

  it('a backup whose manifest cannot be trusted goes when named: nothing else removes it', async () => {
    const repo = await walRepository('expire-named-damaged-');
    const good = await dump(repo, 'app', day(1));
    const bad = await dump(repo, 'app', day(2));
    const dir = repo.storage.location.slice('file://'.length);
    writeFileSync(path.join(dir, 'backups', bad, 'manifest.json'), '{"not": "a manifest"');
    const { plan } = await expire(repo, { ...ALL, remove: [bad] }, GRACE, { confirm: true });
    expect(plan.remove).toEqual([{ id: bad, why: 'named with --backup; not listed: manifest is not valid JSON' }]);
    expect(existsSync(path.join(dir, 'backups', bad))).toBe(false);
    expect((await repo.catalog()).backups.map((b) => b.id)).toEqual([good]);
  });
});
