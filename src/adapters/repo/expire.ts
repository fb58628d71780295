import { z } from 'zod';
import { UsageError } from '../../errors.js';
import { expire } from '../../pitr/expire.js';
import { tryParseDuration } from '../../time/duration.js';
import { openRepo } from '../repo-settings.js';
import { defineAction } from '../types.js';

// repo.expire: retention as a runbook step. Like the command, it only reports unless confirm.

export const repoExpire = defineAction({
  name: 'repo.expire',
  summary: 'Apply retention: remove old backups and orphans (dry run unless confirm: true)',
  input: z.strictObject({
    repo: z.string().optional(),
    keepLast: z.number().int().min(1).optional(),
    keepDays: z.number().min(0).optional(),
    orphanGrace: z.string().default('6h'),
    confirm: z.boolean().default(false),
  }),
  outputs: ['removed', 'kept', 'orphans', 'dryRun'],
  describe: (i) => `${i.confirm ? 'remove' : 'list (dry run)'} backups beyond ${[i.keepLast ? `the last ${i.keepLast}` : '', i.keepDays !== undefined ? `${i.keepDays} days` : ''].filter(Boolean).join(' and ')}`,
  async run(ctx, i) {
    if (i.keepLast === undefined && i.keepDays === undefined) throw new UsageError('usage.retention', 'repo.expire: give keepLast and/or keepDays');
    const grace = tryParseDuration(i.orphanGrace);
    if (grace === undefined) throw new UsageError('usage.duration', `orphanGrace: "${i.orphanGrace}" is not a duration`);
    const repo = await openRepo(ctx, i.repo);
    const verb = i.confirm ? 'removing' : 'would remove';
    const { plan, spared } = await expire(repo, { keepLast: i.keepLast, keepDays: i.keepDays }, grace, {
      confirm: i.confirm,
      show: (plan) => {
        for (const r of plan.remove) ctx.log(`${verb} ${r.id} (${r.why})`);
        for (const o of plan.orphans) ctx.log(`${verb} orphan ${o.id} (${o.objects} objects, no manifest)`);
        for (const n of plan.notOrphans) ctx.log(`keeping ${n.id} (${n.why})`);
      },
    });
    for (const id of spared) ctx.log(`kept ${id}: its manifest appeared while orphans were removed`);
    return { removed: plan.remove.map((r) => r.id), kept: plan.keep.map((k) => k.id), orphans: plan.orphans.map((o) => o.id).filter((id) => !spared.includes(id)), dryRun: !i.confirm };
  },
});
