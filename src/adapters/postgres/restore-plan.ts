import { OperationError } from '../../errors.js';
import { planWal, selectBaseBackup, type RecoveryTarget, type WalPlan } from '../../pitr/select.js';
import { listWal, recoveryTimeline } from '../../pitr/wal-archive.js';
import { DEFAULT_SEGMENT_SIZE } from '../../pitr/wal-names.js';
import type { Manifest } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import type { ActionContext } from '../types.js';

// Everything a physical restore can refuse, decided before the data directory is touched:
// backup selection, WAL continuity, coverage of the target.

export interface RestorePlan {
  backup: Manifest;
  wal: WalPlan;
  segSize: number;
}

export async function planRestore(ctx: ActionContext, repo: Repository, o: { backup: string; target: RecoveryTarget; timeline?: number }): Promise<RestorePlan> {
  const { target } = o;
  const [cat, wal] = await Promise.all([repo.catalog(), listWal(repo)]);
  const { timeline, anc } = await recoveryTimeline(repo, wal, { requested: o.timeline, fallback: 1, signal: ctx.signal });
  let backup: Manifest;
  if (o.backup === 'latest') backup = selectBaseBackup(cat.backups, target, timeline, anc);
  else {
    backup = await repo.resolve(o.backup, ['base']);
    if (target !== 'latest' && Date.parse(backup.stoppedAt) > target.getTime()) {
      throw new OperationError('pitr.tooEarly', `backup ${backup.id} ended at ${backup.stoppedAt}, after the target ${target.toISOString()}: it cannot be used to recover to that point`);
    }
  }
  const segSize = Number(backup.extra?.walSegmentSize ?? DEFAULT_SEGMENT_SIZE);
  const plan = planWal(backup, target, wal, timeline, anc, segSize);
  ctx.log(`base backup ${backup.id} (ended ${backup.stoppedAt}, timeline ${backup.pg?.timeline}); ${plan.files.length} WAL file(s) up to ${plan.lastSegment.name} (archived ${plan.lastSegment.mtime.toISOString()})`);
  return { backup, wal: plan, segSize };
}
