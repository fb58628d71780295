import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { connect } from './client.js';
import { describeConn, parsePgUrl } from './conn.js';
import { collectStats } from './stats.js';

// postgres.assert: the data came back. Tables exist with the rows expected; functions,
// policies and extensions are present (critical tables and RLS checks).

const TableExpectation = z.strictObject({
  minRows: z.number().int().nonnegative().optional(),
  maxRows: z.number().int().nonnegative().optional(),
  rows: z.number().int().nonnegative().optional(),
});

export const postgresAssert = defineAction({
  name: 'postgres.assert',
  summary: 'Check that tables, row counts, functions and policies are as expected',
  input: z.strictObject({
    url: z.string().optional(),
    tables: z.record(z.string(), z.union([TableExpectation, z.null()])).default({}),
    functions: z.array(z.string()).default([]),
    policies: z.array(z.string()).default([]),
    extensions: z.array(z.string()).default([]),
    expectRowCounts: z.record(z.string(), z.number()).optional().meta({ description: 'row counts to match, e.g. ${steps.counts.outputs.rowCounts} of another database' }),
    rowTolerance: z.number().min(0).default(0).meta({ description: 'allowed relative difference for expectRowCounts' }),
  }),
  outputs: ['rowCounts', 'failures'],
  describe: (i) =>
    i.expectRowCounts
      ? `compare the row counts of ${Object.keys(i.expectRowCounts).length} table(s)`
      : `check ${Object.keys(i.tables).length} table(s), ${i.functions.length} function(s), ${i.policies.length} policy(ies)`,
  async run(ctx, i) {
    const conn = parsePgUrl(i.url ?? ctx.env.DATABASE_URL, ctx.env);
    const db = await connect(conn, { signal: ctx.signal });
    try {
      // An assertion is what the user asked to check: exact counts, whatever the size.
      const stats = await collectStats(db, Number.POSITIVE_INFINITY);
      const counts: Record<string, number> = {};
      for (const t of stats.tables) counts[t.schema === 'public' ? t.name : `${t.schema}.${t.name}`] = t.rows;
      const failures: string[] = [];
      for (const [name, want] of Object.entries(i.tables)) {
        const n = counts[name] ?? counts[name.replace(/^public\./, '')];
        if (n === undefined) {
          failures.push(`table ${name} is missing`);
          continue;
        }
        if (want?.minRows !== undefined && n < want.minRows) failures.push(`table ${name} has ${n} rows, expected at least ${want.minRows}`);
        if (want?.maxRows !== undefined && n > want.maxRows) failures.push(`table ${name} has ${n} rows, expected at most ${want.maxRows}`);
        if (want?.rows !== undefined && n !== want.rows) failures.push(`table ${name} has ${n} rows, expected ${want.rows}`);
      }
      const fnNames = new Set(stats.functions.flatMap((f) => [f, f.replace(/\(.*$/, ''), f.replace(/^public\./, '').replace(/\(.*$/, '')]));
      for (const f of i.functions) if (!fnNames.has(f)) failures.push(`function ${f} is missing`);
      const pol = new Set(stats.policies.flatMap((p) => [p, p.replace(/^public\./, '')]));
      for (const p of i.policies) if (!pol.has(p)) failures.push(`policy ${p} is missing`);
      for (const e of i.extensions) if (!stats.extensions.includes(e)) failures.push(`extension ${e} is missing`);
      for (const [name, want] of Object.entries(i.expectRowCounts ?? {})) {
        const n = counts[name];
        if (n === undefined) failures.push(`table ${name} is missing`);
        else if (Math.abs(n - want) > want * i.rowTolerance) failures.push(`table ${name} has ${n} rows, expected ${want}${i.rowTolerance ? ` ±${Math.round(i.rowTolerance * 100)}%` : ''}`);
      }
      for (const [name] of Object.entries(i.tables)) {
        const n = counts[name] ?? counts[name.replace(/^public\./, '')];
        if (n !== undefined) ctx.log(`${name}: ${n} rows`);
      }
      if (failures.length) throw new OperationError('postgres.assert', `${describeConn(conn)}: ${failures.join('; ')}`, { cause: { rowCounts: counts, failures } });
      return { rowCounts: counts, failures };
    } finally {
      await db.close();
    }
  },
});
