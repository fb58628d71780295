import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { formatDuration, parseDuration } from '../../time/duration.js';
import { parseTimePoint } from '../../time/time-point.js';
import { outsideWindow } from '../managed-window.js';
import { pollUntil } from '../provider-api.js';
import { defineAction } from '../types.js';
import { postgresPath, recoveryInfo, renderApi } from './api.js';

// render.pitr: Render's point-in-time recovery creates a NEW database from the source as it
// was at the target; the source is left alone. drctl checks the target against the recovery
// window first (refusing outside it), starts the recovery, waits until the new instance is
// available, and outputs its id and connection strings (passwords masked in every output;
// later steps such as postgres.assert receive them whole).

export const renderPitr = defineAction({
  name: 'render.pitr',
  summary: 'Recover a Render Postgres instance to a point in time into a new instance and wait until it is available',
  input: z.strictObject({
    postgres: z.string().min(1).meta({ description: 'Render Postgres id of the source (dpg-...)' }),
    to: z.string().min(1).meta({ description: 'target time: ISO 8601 with offset, "20 minutes ago", now-20m, or latest' }),
    name: z.string().optional().meta({ description: 'name of the new instance (default: Render picks one)' }),
    timeout: z.string().default('45m').meta({ description: 'how long to wait for the new instance' }),
    pollInterval: z.string().default('').meta({ description: 'how often to read its status (default: DRCTL_POLL_INTERVAL, else 10s)' }),
  }),
  outputs: ['sourceId', 'postgresId', 'name', 'target', 'recoveryPoint', 'windowStart', 'windowEnd', 'status', 'url', 'internalUrl', 'psqlCommand', 'waitedMs', 'polls', 'figure'],
  describe: (i) => `recover Render Postgres ${i.postgres} to ${i.to} into a new instance${i.name ? ` ${i.name}` : ''}, then wait until available (up to ${i.timeout})`,
  async run(ctx, i) {
    const timeoutMs = parseDuration(i.timeout, 'timeout');
    const intervalMs = parseDuration(i.pollInterval || ctx.env.DRCTL_POLL_INTERVAL || '10s', 'pollInterval');
    const api = renderApi(ctx);
    const info = await recoveryInfo(api, i.postgres);
    if (info.status !== 'AVAILABLE' || !info.start) {
      const e = new OperationError('pitr.refused', `Render Postgres ${i.postgres}: point-in-time recovery is ${info.status}; nothing was changed`);
      e.retryable = false;
      throw e;
    }
    const target = new Date(Math.floor((i.to === 'latest' ? info.end : parseTimePoint(i.to, 'to')).getTime() / 1000) * 1000);
    if (target < info.start || target > info.end) throw outsideWindow(`Render Postgres ${i.postgres}`, target, info.start, info.end);
    ctx.log(`target ${target.toISOString()} within the recovery window ${info.start.toISOString()} … ${info.end.toISOString()}`);

    const started = Date.now();
    const unsure = `the recovery may have started anyway: look in the Render Dashboard for a new Postgres instance${i.name ? ` named ${i.name}` : ''} recovered from ${i.postgres} before starting another (each recovery creates an instance, billed until deleted)`;
    const created = (await api.post(`${postgresPath(i.postgres)}/recovery`, { restoreTime: target.toISOString(), ...(i.name ? { restoreName: i.name } : {}) }, unsure)) as
      | { id?: unknown; name?: unknown; postgres?: { id?: unknown; name?: unknown } }
      | undefined;
    const node = created?.postgres ?? created;
    const id = typeof node?.id === 'string' ? node.id : undefined;
    if (!id) throw new OperationError('render.api', `Render API: the recovery of ${i.postgres} started but its answer names no new instance; look for it in the Dashboard`);
    ctx.log(`new instance ${id}; waiting until available`);

    const { value, polls } = await pollUntil(ctx, {
      what: `Render Postgres ${id}`,
      read: async () => (await api.get(postgresPath(id))) as { status?: unknown; name?: unknown } | undefined,
      state: (p) => String(p?.status ?? 'unknown'),
      done: (p) => p?.status === 'available',
      failed: (p) => (typeof p?.status === 'string' && /fail/i.test(p.status) ? `the recovery ended in ${p.status}` : undefined),
      intervalMs,
      timeoutMs,
    });
    const conn = (await api.get(`${postgresPath(id)}/connection-info`)) as
      | { password?: unknown; externalConnectionString?: unknown; internalConnectionString?: unknown; psqlCommand?: unknown }
      | undefined;
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    ctx.secret(str(conn?.password));
    const waitedMs = Date.now() - started;
    const name = typeof value?.name === 'string' ? value.name : typeof node?.name === 'string' ? node.name : (i.name ?? '');
    return {
      sourceId: i.postgres,
      postgresId: id,
      name,
      target: target.toISOString(),
      recoveryPoint: target.toISOString(),
      windowStart: info.start.toISOString(),
      windowEnd: info.end.toISOString(),
      status: 'available',
      url: str(conn?.externalConnectionString),
      internalUrl: str(conn?.internalConnectionString),
      psqlCommand: str(conn?.psqlCommand),
      waitedMs,
      polls,
      figure: `${id} available in ${formatDuration(waitedMs)}, as of ${target.toISOString()}`,
    };
  },
});
