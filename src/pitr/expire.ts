import { listWal } from './wal-archive.js';
import { DEFAULT_SEGMENT_SIZE, segmentNumber, walFileKind } from './wal-names.js';
import type { Repository } from '../repository/repository.js';
import { decideRetention, type RetentionPolicy } from '../repository/retention.js';

// `backups expire`: apply retention and remove orphans (data without a manifest, older than a
// grace period so a running backup is never touched). Prints only, unless confirmed.

export interface ExpirePlan {
  remove: { id: string; why: string }[];
  keep: { id: string; why: string }[];
  orphans: { id: string; objects: number; newest: string }[];
  tempFiles: string[];
  /** Archived WAL older than the first segment any kept base backup needs. */
  wal: { keys: string[]; before?: string };
}

export async function planExpire(repo: Repository, policy: RetentionPolicy, orphanGraceMs: number, now = new Date()): Promise<ExpirePlan> {
  const cat = await repo.catalog();
  const decision = decideRetention(cat.backups, policy, now);
  const cutoff = now.getTime() - orphanGraceMs;
  const orphans = cat.orphans.filter((o) => o.newest.getTime() < cutoff).map((o) => ({ id: o.id, objects: o.keys.length, newest: o.newest.toISOString() }));
  const tempFiles = (await repo.tempFiles()).filter((t) => t.mtime.getTime() < cutoff).map((t) => t.key);
  // WAL is kept from the oldest kept base backup on; with no base backup kept, all of it.
  const kept = new Set(decision.keep.map((k) => k.id));
  const keptBases = cat.backups.filter((b) => b.kind === 'base' && b.pg && kept.has(b.id));
  let wal: ExpirePlan['wal'] = { keys: [] };
  if (keptBases.length) {
    const seg = (b: (typeof keptBases)[number]) => segmentNumber(b.pg!.walStart, Number(b.extra?.walSegmentSize ?? DEFAULT_SEGMENT_SIZE));
    const oldest = keptBases.reduce((a, b) => (seg(b) < seg(a) ? b : a));
    const segSize = Number(oldest.extra?.walSegmentSize ?? DEFAULT_SEGMENT_SIZE);
    const limit = seg(oldest);
    const old = (await listWal(repo)).filter((w) => {
      const kind = walFileKind(w.name);
      return (kind === 'segment' || kind === 'partial' || kind === 'backup') && segmentNumber(w.name.slice(0, 24), segSize) < limit;
    });
    wal = { keys: old.map((w) => w.key), before: oldest.pg!.walStart };
  }
  return { ...decision, orphans, tempFiles, wal };
}

export async function applyExpire(repo: Repository, plan: ExpirePlan): Promise<void> {
  const release = await repo.lock('expire');
  try {
    for (const b of plan.remove) await repo.removeBackup(b.id);
    for (const o of plan.orphans) await repo.removeBackup(o.id);
    for (const t of plan.tempFiles) await repo.storage.remove(t);
    for (const k of plan.wal.keys) await repo.storage.remove(k);
  } finally {
    await release();
  }
}
