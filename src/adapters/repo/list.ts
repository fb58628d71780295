import { z } from 'zod';
import { openRepo } from '../repo-settings.js';
import { defineAction } from '../types.js';

// repo.list: the backups a repository holds (only those with a valid manifest).

export const repoList = defineAction({
  name: 'repo.list',
  summary: 'List the backups in the repository',
  input: z.strictObject({ repo: z.string().optional(), kind: z.enum(['logical', 'base', 'redis', 'env']).optional() }),
  outputs: ['backups', 'count', 'latest', 'latestAgeSeconds'],
  describe: (i) => `list ${i.kind ?? 'all'} backups in ${i.repo ?? 'the configured repository'}`,
  async run(ctx, i) {
    const repo = await openRepo(ctx, i.repo);
    const { backups } = await repo.catalog();
    const chosen = backups.filter((b) => !i.kind || b.kind === i.kind);
    const latest = chosen[chosen.length - 1];
    return {
      backups: chosen.map((b) => ({ id: b.id, kind: b.kind, stoppedAt: b.stoppedAt, size: b.size, label: b.label })),
      count: chosen.length,
      latest: latest?.id ?? '',
      latestAgeSeconds: latest ? Math.round((Date.now() - Date.parse(latest.stoppedAt)) / 1000) : -1,
    };
  },
});
