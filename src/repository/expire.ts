import type { Repository } from './repository.js';
import { decideRetention, type RetentionPolicy } from './retention.js';

// `backups expire`: apply retention and remove orphans (data without a manifest, older than a
// grace period so a running backup is never touched). Prints only, unless confirmed.

export interface ExpirePlan {
  remove: { id: string; why: string }[];
  keep: { id: string; why: string }[];
  orphans: { id: string; objects: number; newest: string }[];
  tempFiles: string[];
}

export async function planExpire(repo: Repository, policy: RetentionPolicy, orphanGraceMs: number, now = new Date()): Promise<ExpirePlan> {
  const cat = await repo.catalog();
  const decision = decideRetention(cat.backups, policy, now);
  const cutoff = now.getTime() - orphanGraceMs;
  const orphans = cat.orphans.filter((o) => o.newest.getTime() < cutoff).map((o) => ({ id: o.id, objects: o.keys.length, newest: o.newest.toISOString() }));
  const tempFiles = (await repo.tempFiles()).filter((t) => t.mtime.getTime() < cutoff).map((t) => t.key);
  return { ...decision, orphans, tempFiles };
}

export async function applyExpire(repo: Repository, plan: ExpirePlan): Promise<void> {
  const release = await repo.lock('expire');
  try {
    for (const b of plan.remove) await repo.removeBackup(b.id);
    for (const o of plan.orphans) await repo.removeBackup(o.id);
    for (const t of plan.tempFiles) await repo.storage.remove(t);
  } finally {
    await release();
  }
}
