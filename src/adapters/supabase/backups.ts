import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { windowProblems } from '../managed-window.js';
import { readBackups, supabaseApi } from './api.js';

// supabase.backups: what a Supabase project can be restored to — the PITR window, or the daily
// backups when PITR is off — and, given maxAge / retention, whether that keeps the promise.

export const supabaseBackups = defineAction({
  name: 'supabase.backups',
  summary: "Read a Supabase project's PITR window and daily backups; check them against the RPO and retention",
  input: z.strictObject({
    project: z.string().min(1).meta({ description: 'project ref' }),
    maxAge: z.string().optional().meta({ description: 'fail when the latest recovery point is older (the RPO), e.g. 15m' }),
    retention: z.string().optional().meta({ description: 'fail when the earliest recovery point is more recent than this, e.g. 7d' }),
  }),
  outputs: ['pitrEnabled', 'windowStart', 'windowEnd', 'backups', 'latestBackup', 'recoveryPoint', 'figure'],
  describe: (i) => `read the backups of Supabase project ${i.project}${i.maxAge ? `, latest point within ${i.maxAge}` : ''}${i.retention ? `, reaching back ${i.retention}` : ''}`,
  async run(ctx, i) {
    const state = await readBackups(supabaseApi(ctx), i.project);
    const oldest = state.backups[0];
    const newest = state.backups[state.backups.length - 1];
    const start = state.window?.start ?? oldest?.at;
    const end = state.window?.end ?? newest?.at;
    const figure = state.pitrEnabled
      ? state.window
        ? `PITR ${state.window.start.toISOString()} … ${state.window.end.toISOString()}`
        : 'PITR on, no window reported yet'
      : `PITR off; ${state.backups.length} daily backup(s)${newest ? `, newest ${newest.at.toISOString()}` : ''}`;
    const problems = windowProblems(start, end, { maxAge: i.maxAge, retention: i.retention });
    if (problems.length) {
      const e = new OperationError('supabase.window', `Supabase project ${i.project}: ${problems.join('; ')} (${figure})`);
      e.retryable = false;
      throw e;
    }
    return {
      pitrEnabled: state.pitrEnabled,
      windowStart: start?.toISOString() ?? null,
      windowEnd: end?.toISOString() ?? null,
      backups: state.backups.map((b) => ({ id: b.id, at: b.at.toISOString(), physical: b.physical })),
      latestBackup: newest ? { id: newest.id, at: newest.at.toISOString() } : null,
      recoveryPoint: end?.toISOString() ?? '',
      figure,
    };
  },
});
