import { listWal } from './wal-archive.js';
import { DEFAULT_SEGMENT_SIZE, segmentNumber, walFileKind } from './wal-names.js';
import type { Repository } from '../repository/repository.js';
import { decideRetention, type RetentionPolicy } from '../repository/retention.js';
import { bySource } from '../repository/source.js';

// `backups expire`: apply retention and remove orphans (data without a manifest, older than a
// grace period so a running backup is never touched). Prints only, unless confirmed.
// A confirmed expire plans under the repository lock and applies that plan before releasing
// it: a plan made from an earlier listing could name as an orphan a backup that has committed
// since, or that a lagging listing showed without its manifest.

export interface ExpirePlan {
  remove: { id: string; why: string }[];
  keep: { id: string; why: string }[];
  orphans: { id: string; objects: number; newest: string }[];
  /** Listed without their manifest, but it is there when asked for directly: never removed. */
  notOrphans: { id: string; why: string }[];
  tempFiles: string[];
  /** Empty directories under backups/ a killed writer left (file repositories), unchanged since `emptyBefore`. */
  emptyDirs: string[];
  emptyBefore: string;
  /** Archived WAL older than the first segment any kept base backup needs. */
  wal: { keys: string[]; before?: string };
}

export async function planExpire(repo: Repository, policy: RetentionPolicy, orphanGraceMs: number, now = new Date()): Promise<ExpirePlan> {
  const cat = await repo.catalog();
  const decision = decideRetention(cat.backups, policy, now);
  const cutoff = now.getTime() - orphanGraceMs;
  const orphans: ExpirePlan['orphans'] = [];
  const notOrphans: ExpirePlan['notOrphans'] = [];
  for (const o of cat.orphans.filter((x) => x.newest.getTime() < cutoff)) {
    // A listing can miss an object that exists (an S3-compatible store whose listing lags its
    // writes): the manifest is asked for by name before its backup is called incomplete.
    if (await repo.hasManifest(o.id)) notOrphans.push({ id: o.id, why: 'its manifest exists, though the listing did not show it' });
    else orphans.push({ id: o.id, objects: o.keys.length, newest: o.newest.toISOString() });
  }
  const tempFiles = (await repo.tempFiles()).filter((t) => t.mtime.getTime() < cutoff).map((t) => t.key);
  const emptyDirs = (await repo.storage.emptyDirs?.('backups/', new Date(cutoff), false)) ?? [];
  // WAL is kept from the oldest kept base backup on; with no base backup kept, all of it. A
  // cluster whose backups here ended before the newest cluster's kept ones began (replaced by
  // pg_upgrade, retired) keeps its kept base backups restorable (the WAL from each one's start to
  // its stop) but does not hold back expiry for ever; every other cluster counts in full, so two
  // clusters backing up side by side never lose each other's WAL.
  const kept = new Set(decision.keep.map((k) => k.id));
  const keptBases = cat.backups.filter((b) => b.kind === 'base' && b.pg && kept.has(b.id));
  let wal: ExpirePlan['wal'] = { keys: [] };
  if (keptBases.length) {
    type Base = (typeof keptBases)[number];
    const segSizeOf = (b: Base) => Number(b.extra?.walSegmentSize ?? DEFAULT_SEGMENT_SIZE);
    const groups = [...bySource(keptBases).values()].map((g) => g.backups);
    const newest = groups.find((g) => g.includes(keptBases[keptBases.length - 1]!))!;
    const takeover = Date.parse(newest[0]!.startedAt);
    const retired = groups.filter((g) => g !== newest && Date.parse(g[g.length - 1]!.stoppedAt) < takeover);
    const live = keptBases.filter((b) => !retired.some((g) => g.includes(b)));
    // Each base's own segment size numbers the files it needs (a cluster may be replaced by one
    // initialised with another size).
    const below = live.map((b) => ({ from: segmentNumber(b.pg!.walStart, segSizeOf(b)), size: segSizeOf(b) }));
    const oldest = live.reduce((a, b) => (segmentNumber(b.pg!.walStart, segSizeOf(b)) < segmentNumber(a.pg!.walStart, segSizeOf(a)) ? b : a));
    const needed = retired.flat().map((b) => ({ from: segmentNumber(b.pg!.walStart, segSizeOf(b)), to: segmentNumber(b.pg!.walStop, segSizeOf(b)), size: segSizeOf(b) }));
    const old = (await listWal(repo)).filter((w) => {
      const kind = walFileKind(w.name);
      if (kind !== 'segment' && kind !== 'partial' && kind !== 'backup') return false;
      const name = w.name.slice(0, 24);
      if (!below.every((l) => segmentNumber(name, l.size) < l.from)) return false;
      return !needed.some((r) => {
        const n = segmentNumber(name, r.size);
        return n >= r.from && n <= r.to;
      });
    });
    wal = { keys: old.map((w) => w.key), before: oldest.pg!.walStart };
  }
  return { ...decision, orphans, notOrphans, tempFiles, emptyDirs, emptyBefore: new Date(cutoff).toISOString(), wal };
}

/**
 * Plans, shows the plan, and with `confirm` applies it, all under the repository lock. Returns
 * the plan and the orphans left in place because their manifest turned up while removing.
 */
export async function expire(
  repo: Repository,
  policy: RetentionPolicy,
  orphanGraceMs: number,
  o: { confirm: boolean; show?: (plan: ExpirePlan) => void },
): Promise<{ plan: ExpirePlan; spared: string[] }> {
  const release = o.confirm ? await repo.lock('expire') : undefined;
  try {
    const plan = await planExpire(repo, policy, orphanGraceMs);
    o.show?.(plan);
    return { plan, spared: o.confirm ? await applyExpire(repo, plan) : [] };
  } finally {
    await release?.();
  }
}

/** Applies a plan made under the lock the caller still holds; returns the orphans it spared. */
async function applyExpire(repo: Repository, plan: ExpirePlan): Promise<string[]> {
  const spared: string[] = [];
  for (const b of plan.remove) await repo.removeBackup(b.id);
  for (const o of plan.orphans) if (!(await repo.removeOrphan(o.id))) spared.push(o.id);
  for (const t of plan.tempFiles) await repo.storage.remove(t);
  // Found again (as old as the plan allowed): directories inside them go with them.
  if (plan.emptyDirs.length) await repo.storage.emptyDirs?.('backups/', new Date(plan.emptyBefore), true);
  for (const k of plan.wal.keys) await repo.storage.remove(k);
  return spared;
}
