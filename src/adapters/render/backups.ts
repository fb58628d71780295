import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { windowProblems } from '../managed-window.js';
import { defineAction } from '../types.js';
import { postgresPath, recoveryInfo, renderApi } from './api.js';

// render.backups: what a Render Postgres instance can be recovered to — its point-in-time
// recovery window and its logical exports — and, given maxAge / retention, whether that keeps
// the promise.

export const renderBackups = defineAction({
  name: 'render.backups',
  summary: "Read a Render Postgres instance's recovery window and exports; check them against the RPO and retention",
  input: z.strictObject({
    postgres: z.string().min(1).meta({ description: 'Render Postgres id (dpg-...)' }),
    maxAge: z.string().optional().meta({ description: 'fail when the latest recovery point is older (the RPO)' }),
    retention: z.string().optional().meta({ description: 'fail when the window reaches back less than this, e.g. 3d' }),
  }),
  outputs: ['recoveryStatus', 'windowStart', 'windowEnd', 'exports', 'latestExport', 'recoveryPoint', 'figure'],
  describe: (i) => `read the recovery window of Render Postgres ${i.postgres}`,
  async run(ctx, i) {
    const api = renderApi(ctx);
    const info = await recoveryInfo(api, i.postgres);
    const list = await api.get(`${postgresPath(i.postgres)}/export`);
    // Export URLs are signed download links: only their times are kept.
    const exports = (Array.isArray(list) ? list : [])
      .map((x: { id?: unknown; createdAt?: unknown }) => ({ id: String(x.id ?? ''), createdAt: typeof x.createdAt === 'string' ? x.createdAt : '' }))
      .filter((x) => x.createdAt)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const available = info.status === 'AVAILABLE';
    const figure = available ? `PITR ${info.start?.toISOString() ?? '?'} … ${info.end.toISOString()}` : `PITR ${info.status}`;
    const problems = available ? windowProblems(info.start, info.end, { maxAge: i.maxAge, retention: i.retention }) : i.maxAge || i.retention ? [`point-in-time recovery is ${info.status}`] : [];
    if (problems.length) {
      const e = new OperationError('render.window', `Render Postgres ${i.postgres}: ${problems.join('; ')} (${figure})`);
      e.retryable = false;
      throw e;
    }
    const latest = exports[exports.length - 1];
    return {
      recoveryStatus: info.status,
      windowStart: info.start?.toISOString() ?? null,
      windowEnd: info.end.toISOString(),
      exports: exports.length,
      latestExport: latest ?? null,
      recoveryPoint: available ? info.end.toISOString() : '',
      figure: `${figure}; ${exports.length} export(s)`,
    };
  },
});
