import { z } from 'zod';
import { defineAction } from '../types.js';
import { connect } from './client.js';
import { describeConn, parsePgUrl } from './conn.js';

// postgres.query: run SQL (one statement with $1 parameters, or a script without).

export const postgresQuery = defineAction({
  name: 'postgres.query',
  summary: 'Run SQL against PostgreSQL',
  input: z.strictObject({
    url: z.string().optional(),
    sql: z.string().min(1),
    params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).default([]),
  }),
  outputs: ['rows', 'rowCount', 'row'],
  describe: (i) => `run SQL: ${i.sql.replace(/\s+/g, ' ').slice(0, 120)}`,
  async run(ctx, i) {
    const conn = parsePgUrl(i.url ?? ctx.env.DATABASE_URL, ctx.env);
    const db = await connect(conn, { signal: ctx.signal });
    try {
      const rows = await db.query(i.sql, i.params.length ? i.params : undefined);
      ctx.log(`${describeConn(conn)}: ${rows.length} row(s)`);
      return { rows: rows.slice(0, 1000), rowCount: rows.length, row: rows[0] ?? {} };
    } finally {
      await db.close();
    }
  },
});
