import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { connect } from './client.js';
import { describeConn, parsePgUrl } from './conn.js';

// postgres.health: connection pool use against max_connections, queries running too
// long, replication lag on a replica, database size.

export const postgresHealth = defineAction({
  name: 'postgres.health',
  summary: 'Connections vs max_connections, long-running queries, replication lag, size',
  input: z.strictObject({
    url: z.string().optional(),
    maxConnectionsPct: z.number().min(1).max(100).default(90).meta({ description: 'fail at this share of max_connections in use' }),
    maxQuerySeconds: z.number().positive().optional().meta({ description: 'fail when a query has run longer' }),
    maxReplicationLagSeconds: z.number().positive().optional(),
  }),
  outputs: ['connections', 'maxConnections', 'longQueries', 'replicationLagSeconds', 'databaseSize', 'figure'],
  describe: (i) => `PostgreSQL health: connections < ${i.maxConnectionsPct}%${i.maxQuerySeconds ? `, no query over ${i.maxQuerySeconds}s` : ''}`,
  async run(ctx, i) {
    const conn = parsePgUrl(i.url ?? ctx.env.DATABASE_URL, ctx.env);
    const db = await connect(conn, { signal: ctx.signal });
    try {
      const [r] = await db.query<{ used: string; max: string; size: string; rec: boolean; lag: string | null }>(
        `select (select count(*) from pg_stat_activity) as used, current_setting('max_connections') as max,
                pg_database_size(current_database()) as size, pg_is_in_recovery() as rec,
                case when pg_is_in_recovery() then extract(epoch from now() - pg_last_xact_replay_timestamp()) end as lag`,
      );
      const long = i.maxQuerySeconds
        ? await db.query<{ pid: number; secs: string; q: string }>(
            `select pid, extract(epoch from now() - query_start) as secs, left(query, 80) as q from pg_stat_activity
              where state = 'active' and pid <> pg_backend_pid() and now() - query_start > make_interval(secs => $1) order by 2 desc`,
            [i.maxQuerySeconds],
          )
        : [];
      const used = Number(r?.used ?? 0);
      const max = Number(r?.max ?? 0);
      const lag = r?.lag === null || r?.lag === undefined ? undefined : Number(r.lag);
      const problems: string[] = [];
      if (max && (used / max) * 100 >= i.maxConnectionsPct) problems.push(`${used} of ${max} connections in use (${Math.round((used / max) * 100)}%)`);
      if (long.length) problems.push(`${long.length} quer${long.length === 1 ? 'y' : 'ies'} running over ${i.maxQuerySeconds}s (longest ${Math.round(Number(long[0]!.secs))}s, pid ${long[0]!.pid})`);
      if (lag !== undefined && i.maxReplicationLagSeconds !== undefined && lag > i.maxReplicationLagSeconds) problems.push(`replication lag ${Math.round(lag)}s`);
      const figure = `${used}/${max} connections, ${Math.round(Number(r?.size ?? 0) / 1e6)} MB${lag !== undefined ? `, lag ${Math.round(lag)}s` : ''}`;
      if (problems.length) throw new OperationError('postgres.health', `${describeConn(conn)}: ${problems.join('; ')}`);
      return { connections: used, maxConnections: max, longQueries: long.length, replicationLagSeconds: lag ?? 0, databaseSize: Number(r?.size ?? 0), figure };
    } finally {
      await db.close();
    }
  },
});
