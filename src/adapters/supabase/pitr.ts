import { z } from 'zod';
import { ConfirmationError, OperationError, UsageError } from '../../errors.js';
import { formatDuration, parseDuration } from '../../time/duration.js';
import { parseTimePoint } from '../../time/time-point.js';
import { outsideWindow } from '../managed-window.js';
import { pollUntil } from '../provider-api.js';
import { defineAction } from '../types.js';
import { BUSY, FAILED, RESTORE_UNDERWAY, projectPath, projectStatus, readBackups, supabaseApi, type DailyBackup } from './api.js';

// supabase.pitr: restores a Supabase project in place — to a point in time when PITR is on,
// else from the newest daily backup taken at or before the target (or the one named). The
// target is checked against what the project can reach before anything is asked or started;
// then the operator confirms (everything written after the target is lost), the restore
// starts, and the project is polled until it is ACTIVE_HEALTHY again. It must first be seen in
// a state only a restore puts it in (RESTORING, COMING_UP ...): mid-incident the project may be
// ACTIVE_UNHEALTHY before the request and recover on its own, which is no restore.

export const supabasePitr = defineAction({
  name: 'supabase.pitr',
  summary: 'Restore a Supabase project in place to a point in time (PITR) or a daily backup, and wait until it is healthy',
  input: z.strictObject({
    project: z.string().min(1).meta({ description: 'project ref' }),
    to: z.string().optional().meta({ description: 'target time: ISO 8601 with offset, "20 minutes ago", now-20m, or latest' }),
    backup: z.string().optional().meta({ description: 'daily backup id to restore (projects without PITR; default: the newest at or before the target)' }),
    timeout: z.string().default('45m').meta({ description: 'how long to wait for the project to be healthy again' }),
    pollInterval: z.string().default('').meta({ description: 'how often to read the project status (default: DRCTL_POLL_INTERVAL, else 10s)' }),
  }),
  outputs: ['project', 'mode', 'target', 'recoveryPoint', 'windowStart', 'windowEnd', 'backupId', 'restored', 'status', 'unavailableMs', 'unavailable', 'polls', 'figure'],
  describe: (i) => `restore Supabase project ${i.project} in place to ${i.backup ? `daily backup ${i.backup}` : (i.to ?? 'latest')}, then wait until healthy (up to ${i.timeout})`,
  async run(ctx, i) {
    const timeoutMs = parseDuration(i.timeout, 'timeout');
    const intervalMs = parseDuration(i.pollInterval || ctx.env.DRCTL_POLL_INTERVAL || '10s', 'pollInterval');
    const api = supabaseApi(ctx);
    const path = projectPath(i.project);
    // Runbook inputs left empty arrive as "".
    const chosen = i.backup || undefined;
    const wantLatest = !i.to || i.to === 'latest';
    const asked = wantLatest ? undefined : parseTimePoint(i.to!, 'to');
    const state = await readBackups(api, i.project);

    let mode: 'pitr' | 'backup';
    let target: Date;
    let recoveryPoint: Date;
    let backup: DailyBackup | undefined;
    if (state.pitrEnabled && chosen === undefined) {
      mode = 'pitr';
      if (!state.window) throw refusal(`Supabase project ${i.project}: PITR is on but the API reports no recovery window yet; nothing was changed`);
      // The API takes whole seconds.
      target = new Date(Math.floor((asked ?? state.window.end).getTime() / 1000) * 1000);
      if (target < state.window.start || target > state.window.end) throw outsideWindow(`Supabase project ${i.project}`, target, state.window.start, state.window.end);
      recoveryPoint = target;
    } else {
      mode = 'backup';
      if (!state.backups.length) throw refusal(`Supabase project ${i.project}: PITR is off and there is no completed daily backup; nothing was changed`);
      if (chosen !== undefined && chosen !== 'latest') {
        backup = state.backups.find((b) => String(b.id) === chosen);
        if (!backup) throw new UsageError('usage.supabase', `backup ${chosen}: no completed backup with that id (have: ${state.backups.map((b) => b.id).join(', ')})`);
      } else {
        backup = [...state.backups].reverse().find((b) => !asked || b.at <= asked);
        if (!backup) {
          throw refusal(
            `Supabase project ${i.project}: PITR is off and no daily backup was taken at or before ${asked!.toISOString()} (earliest ${state.backups[0]!.at.toISOString()}); nothing was changed`,
          );
        }
      }
      target = asked ?? backup.at;
      recoveryPoint = backup.at;
    }
    const windowStart = state.window?.start ?? state.backups[0]?.at;
    const windowEnd = state.window?.end ?? state.backups[state.backups.length - 1]?.at;
    ctx.log(
      mode === 'pitr'
        ? `target ${target.toISOString()} within the PITR window ${windowStart!.toISOString()} … ${windowEnd!.toISOString()}`
        : `PITR ${state.pitrEnabled ? 'not used' : 'off'}: daily backup ${backup!.id} taken ${backup!.at.toISOString()}`,
    );

    const before = await projectStatus(api, i.project);
    if (BUSY.has(before)) throw refusal(`Supabase project ${i.project} is ${before}: wait until it is settled; nothing was changed`);
    const what = mode === 'pitr' ? `point in time ${target.toISOString()}` : `daily backup ${backup!.id} (${backup!.at.toISOString()})`;
    if (!(await ctx.confirm(`Restore Supabase project ${i.project} IN PLACE to ${what}? Everything written after it is lost and the project is unavailable meanwhile.`))) {
      throw new ConfirmationError('confirm.declined', `declined: Supabase project ${i.project} was left as it is`);
    }

    const requested = Date.now();
    const unsure = `the restore may have started anyway: look at project ${i.project} in the Supabase Dashboard (its status reads RESTORING while a restore runs) before starting another`;
    if (mode === 'pitr') await api.post(`${path}/database/backups/restore-pitr`, { recovery_time_target_unix: Math.floor(target.getTime() / 1000) }, unsure);
    else await api.post(`${path}/database/backups/restore`, { id: backup!.id }, unsure);
    ctx.log(`restore requested (${what}); waiting for it to start, then for ACTIVE_HEALTHY`);

    let started = false;
    let lastStatus = before;
    const { polls } = await pollUntil(ctx, {
      what: `Supabase project ${i.project}`,
      read: () => projectStatus(api, i.project),
      state: (s) => {
        if (s !== lastStatus) ctx.log(`status ${s}`);
        lastStatus = s;
        if (RESTORE_UNDERWAY.has(s)) started = true;
        return started ? s : `${s} (restore not begun yet)`;
      },
      done: (s) => started && s === 'ACTIVE_HEALTHY',
      // A failed state already there before the request is an earlier attempt's, not this one's.
      failed: (s) => (FAILED.has(s) && (started || s !== before) ? `the restore ended in ${s}` : undefined),
      timedOut: (s, waited) =>
        started
          ? undefined
          : `the provider never reported the restore as started: last status ${s} after ${waited} (timeout ${formatDuration(timeoutMs)}); look at the project in the Supabase Dashboard before requesting another`,
      intervalMs,
      timeoutMs,
    });
    const unavailableMs = Date.now() - requested;
    return {
      project: i.project,
      mode,
      target: target.toISOString(),
      recoveryPoint: recoveryPoint.toISOString(),
      windowStart: windowStart?.toISOString() ?? null,
      windowEnd: windowEnd?.toISOString() ?? null,
      backupId: backup?.id ?? null,
      restored: true,
      status: 'ACTIVE_HEALTHY',
      unavailableMs,
      unavailable: formatDuration(unavailableMs),
      polls,
      figure: `${i.project} restored to ${what}; unavailable ${formatDuration(unavailableMs)}`,
    };
  },
});

function refusal(message: string): OperationError {
  const e = new OperationError('pitr.refused', message);
  e.retryable = false;
  return e;
}
