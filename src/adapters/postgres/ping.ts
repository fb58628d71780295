import { z } from 'zod';
import { defineAction } from '../types.js';
import { connect } from './client.js';
import { describeConn, parsePgUrl, withDatabase } from './conn.js';

// postgres.ping: can we connect and run a query? Reports version and whether it is a replica.

export const postgresPing = defineAction({
  name: 'postgres.ping',
  summary: 'Connect to PostgreSQL and run a trivial query',
  input: z.strictObject({
    url: z.string().optional().meta({ description: 'PostgreSQL URL (default: DATABASE_URL / PG* variables)' }),
    database: z.string().optional().meta({ description: 'Connect to this database instead (e.g. postgres, when the target may not exist yet)' }),
  }),
  outputs: ['serverVersion', 'latencyMs', 'inRecovery', 'figure'],
  describe: (i) => `connect to ${i.url ? 'PostgreSQL' : 'DATABASE_URL'}${i.database ? ` (database ${i.database})` : ''}`,
  async run(ctx, i) {
    let conn = parsePgUrl(i.url ?? ctx.env.DATABASE_URL, ctx.env);
    if (i.database) conn = withDatabase(conn, i.database);
    const t0 = performance.now();
    const db = await connect(conn, { signal: ctx.signal });
    try {
      const [r] = await db.query<{ v: string; rec: boolean }>('select current_setting($1) as v, pg_is_in_recovery() as rec', ['server_version']);
      const latencyMs = Math.round(performance.now() - t0);
      ctx.log(`${describeConn(conn)}: PostgreSQL ${r?.v}${r?.rec ? ' (in recovery)' : ''}, ${latencyMs} ms`);
      return { serverVersion: r?.v ?? '', latencyMs, inRecovery: r?.rec ?? false, figure: `PostgreSQL ${r?.v?.split(' ')[0] ?? ''}${r?.rec ? ', replica' : ''}` };
    } finally {
      await db.close();
    }
  },
});
