import { describe, expect, it } from 'vitest';
import { planExpire } from '../../src/pitr/expire.js';
import { listWal } from '../../src/pitr/wal-archive.js';
import { archive, base, day, seg, walRepository } from '../support/wal-repository.js';

// A repository that held cluster A's base backups and WAL, then cluster B's (A replaced by
// pg_upgrade: a new system identifier, its WAL numbered on from A's). A's last base backup is
// kept, as the last backup of a database always is; it must keep only the WAL that makes it
// consistent, not hold back the expiry of B's WAL for ever.

describe('expire with the base backup of a retired cluster', () => {
  it('keeps the WAL that cluster’s last base backup needs, and expires the live cluster’s WAL as its own backups go', async () => {
    const repo = await walRepository('expire-retired-');
    const a = await base(repo, '111', day(1), 2, 3);
    await base(repo, '222', day(2), 0x10, 0x11);
    const b2 = await base(repo, '222', day(3), 0x20, 0x21);
    await archive(repo, [1, 2, 3, 4, 0x0f, 0x10, 0x11, 0x1f, 0x20, 0x21, 0x25]);
    const plan = await planExpire(repo, { keepLast: 1 }, 6 * 3600_000, day(4));
    expect(plan.keep.map((k) => k.id).sort()).toEqual([a, b2].sort());
    expect(plan.wal.before).toBe(seg(0x20));
    const removed = new Set((await listWal(repo)).filter((w) => plan.wal.keys.includes(w.key)).map((w) => w.name));
    expect([...removed].sort()).toEqual([1, 4, 0x0f, 0x10, 0x11, 0x1f].map(seg).sort());
  });

  it('two clusters backing up side by side: each keeps all the WAL from its oldest kept base backup on', async () => {
    const repo = await walRepository('expire-side-');
    await base(repo, '111', day(1), 2, 3);
    const b = await base(repo, '222', day(2), 0x20, 0x21);
    // A's nightly base backup after B's began: A still backs up (and archives) here.
    const a2 = await base(repo, '111', day(3), 5, 6);
    await archive(repo, [1, 2, 3, 4, 5, 6, 7, 0x0f, 0x20, 0x21, 0x25]);
    const plan = await planExpire(repo, { keepLast: 1 }, 6 * 3600_000, day(4));
    expect(plan.keep.map((k) => k.id).sort()).toEqual([a2, b].sort());
    expect(plan.wal.before).toBe(seg(5));
    const removed = (await listWal(repo)).filter((w) => plan.wal.keys.includes(w.key)).map((w) => w.name).sort();
    expect(removed).toEqual([1, 2, 3, 4].map(seg));
  });
});
