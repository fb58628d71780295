import { z } from 'zod';
import { OperationError, UsageError } from '../../errors.js';
import { formatDuration, parseDuration } from '../../time/duration.js';
import { openRepo } from '../repo-settings.js';
import { defineAction } from '../types.js';

// repo.list: the backups a repository holds (only those with a valid manifest).

export const repoList = defineAction({
  name: 'repo.list',
  summary: 'List the backups in the repository',
  input: z.strictObject({
    repo: z.string().optional(),
    kind: z.string().min(1).optional().meta({ description: 'a backup kind: logical, base, redis, env, or one of another adapter' }),
    maxAge: z.string().optional().meta({ description: 'fail when the newest backup is older (health checks)' }),
  }),
  outputs: ['backups', 'count', 'latest', 'latestAgeSeconds', 'figure'],
  describe: (i) => `list ${i.kind ?? 'all'} backups in ${i.repo ?? 'the configured repository'}`,
  async run(ctx, i) {
    if (i.kind !== undefined && !ctx.backupKinds.has(i.kind)) {
      throw new UsageError('usage.kind', `repo.list: unknown backup kind "${i.kind}" (known: ${[...ctx.backupKinds.keys()].join(', ')})`);
    }
    const repo = await openRepo(ctx, i.repo);
    const { backups } = await repo.catalog();
    const chosen = backups.filter((b) => !i.kind || b.kind === i.kind);
    const latest = chosen[chosen.length - 1];
    const ageS = latest ? Math.round((Date.now() - Date.parse(latest.stoppedAt)) / 1000) : -1;
    const figure = latest ? `${chosen.length} backup(s), newest ${formatDuration(ageS * 1000)} old` : 'no backup';
    if (i.maxAge !== undefined) {
      const max = parseDuration(i.maxAge, 'maxAge');
      if (!latest) throw new OperationError('repo.noBackup', `no ${i.kind ?? ''} backup in ${repo.storage.location}`.replace('  ', ' '));
      if (ageS * 1000 > max) throw new OperationError('repo.stale', `newest backup ${latest.id} is ${formatDuration(ageS * 1000)} old (max ${formatDuration(max)})`);
    }
    return {
      figure,
      backups: chosen.map((b) => ({ id: b.id, kind: b.kind, stoppedAt: b.stoppedAt, size: b.size, label: b.label })),
      count: chosen.length,
      latest: latest?.id ?? '',
      latestAgeSeconds: ageS,
    };
  },
});
