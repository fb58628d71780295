import { z } from 'zod';
import { parseDuration } from '../../time/duration.js';
import { openRepo } from '../repo-settings.js';
import { defineAction } from '../types.js';
import { waitForArchived } from './archive-wait.js';
import { connect } from './client.js';
import { parsePgUrl } from './conn.js';

// postgres.archiveNow: close the current WAL segment and wait until it is in the repository,
// so that everything committed so far can be recovered (before a planned PITR, after an
// incident, at the end of a drill's "disaster").

export const postgresArchiveNow = defineAction({
  name: 'postgres.archiveNow',
  summary: 'Switch to a new WAL segment and wait until the closed one is archived in the repository',
  input: z.strictObject({ url: z.string().optional(), repo: z.string().optional(), timeout: z.string().default('60s') }),
  outputs: ['segment', 'archivedAt'],
  describe: () => 'switch WAL (pg_switch_wal) and wait until the segment is in the repository',
  async run(ctx, i) {
    const db = await connect(parsePgUrl(i.url ?? ctx.env.DATABASE_URL, ctx.env), { signal: ctx.signal });
    let segment: string;
    let archiveCommand: string;
    try {
      const [r] = await db.query<{ seg: string; ac: string }>("select pg_walfile_name(pg_switch_wal()) as seg, current_setting('archive_command') as ac");
      segment = r!.seg;
      archiveCommand = r!.ac;
    } finally {
      await db.close();
    }
    const repo = await openRepo(ctx, i.repo);
    await waitForArchived(ctx, repo, segment, parseDuration(i.timeout, 'timeout'), archiveCommand, 'closed by pg_switch_wal()');
    ctx.log(`${segment} is archived in ${repo.storage.location}`);
    return { segment, archivedAt: new Date().toISOString() };
  },
});
