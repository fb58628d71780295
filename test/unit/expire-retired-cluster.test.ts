import { describe, expect, it } from 'vitest';
import { planExpire } from '../../src/pitr/expire.js';
import { listWal } from '../../src/pitr/wal-archive.js';
import { archive, base, day, seg, walRepository } from '../support/wal-repository.js';

// Several clusters' base backups in one repository. Archived WAL does not record its cluster, so
// expire cannot tell a cluster replaced by pg_upgrade (a new system identifier, its WAL numbered
// on from the old one's) from one that still backs up here on a slower cadence: every kept base
// backup holds back the WAL from its start on, and a cluster gone for good frees its WAL when
// its base backups are removed by name.

const GRACE = 6 * 3600_000;

async function removed(repo: Awaited<ReturnType<typeof walRepository>>, keys: string[]): Promise<string[]> {
  return (await listWal(repo)).filter((w) => keys.includes(w.key)).map((w) => w.name).sort();
}

describe('expire with the base backups of several clusters', () => {
  it('a replaced cluster’s last base backup holds its WAL back until it is removed by name', async () => {
    const repo = await walRepository('expire-retired-');
    const a = await base(repo, '111', day(1), 2, 3);
    await base(repo, '222', day(2), 0x10, 0x11);
    const b2 = await base(repo, '222', day(3), 0x20, 0x21);
    await archive(repo, [1, 2, 3, 4, 0x0f, 0x10, 0x11, 0x1f, 0x20, 0x21, 0x25]);
    const plan = await planExpire(repo, { keepLast: 1 }, GRACE, day(4));
    expect(plan.keep.map((k) => k.id).sort()).toEqual([a, b2].sort());
    expect(plan.wal.before).toBe(seg(2));
    expect(await removed(repo, plan.wal.keys)).toEqual([seg(1)]);

    const named = await planExpire(repo, { keepLast: 1, remove: [a] }, GRACE, day(4));
    expect(named.keep.map((k) => k.id)).toEqual([b2]);
    expect(await removed(repo, named.wal.keys)).toEqual([1, 2, 3, 4, 0x0f, 0x10, 0x11, 0x1f].map(seg));
  });

  it('a cluster backing up weekly beside one backing up daily, keep-last 1: nothing the weekly one’s base backup needs goes', async () => {
    // Z's weekly base backup ended before every kept base backup of N began: by the dates alone
    // Z looks replaced, yet it still archives here, and PITR from z needs 3..8.
    const repo = await walRepository('expire-side-');
    const z = await base(repo, '111', day(1), 2, 3);
    await base(repo, '222', day(2), 0x20, 0x21);
    const n2 = await base(repo, '222', day(3), 0x24, 0x25);
    await archive(repo, [1, 2, 3, 4, 5, 6, 7, 8, 0x20, 0x21, 0x24, 0x25]);
    const plan = await planExpire(repo, { keepLast: 1 }, GRACE, day(4));
    expect(plan.keep.map((k) => k.id).sort()).toEqual([z, n2].sort());
    expect(await removed(repo, plan.wal.keys)).toEqual([seg(1)]);
  });
});
