import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { OperationError, UsageError } from '../../errors.js';
import { defineAction } from '../types.js';
import { connect, pgError, type Db } from './client.js';
import { parsePgUrl, describeConn, quoteIdent, type PgConn } from './conn.js';
import { cjsExports } from '../../cjs-exports.js';

// postgres.copyRows (accidental deletion): rows from a recovered copy back into the live
// database, streamed from `COPY (SELECT ...) TO STDOUT` on one connection into `COPY ... FROM
// STDIN` on the other, in one transaction on the target. Server-side COPY over the pg protocol:
// no psql, so no client-side meta-command (\copy ... to program) that a `where` could reach.

const IDENT = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

export const postgresCopyRows = defineAction({
  name: 'postgres.copyRows',
  summary: 'Copy rows of a table from one database to another (COPY, streamed)',
  input: z.strictObject({
    from: z.string().min(1),
    to: z.string().min(1),
    table: z.string().regex(IDENT, 'a table name, optionally schema-qualified'),
    where: z.string().optional().meta({ description: 'SQL condition selecting the rows to copy (runs on the source, read-only)' }),
    onConflictSkip: z.boolean().default(true).meta({ description: 'skip rows whose key already exists on the target' }),
  }),
  outputs: ['rows'],
  describe: (i) => `copy rows of ${i.table}${i.where ? ` where ${i.where}` : ''} into the target database`,
  async run(ctx, i) {
    const from = parsePgUrl(i.from, ctx.env, 'from');
    const to = parsePgUrl(i.to, ctx.env, 'to');
    // Names are quoted as written (case-sensitive), as identifiers, never as SQL text.
    const table = i.table.split('.').map(quoteIdent).join('.');
    const { to: copyTo, from: copyFrom } = cjsExports(await import('pg-copy-streams'), 'to');
    const src = await connect(from, { signal: ctx.signal });
    let dst: Db | undefined;
    try {
      await src.query('begin isolation level repeatable read read only');
      // The newline lets a `where` end in a -- comment without swallowing the closing parenthesis.
      const select = `select * from ${table}${i.where ? ` where (${i.where}\n)` : ''}`;
      await checkSingleQuery(src, select, from);
      dst = await connect(to, { signal: ctx.signal });
      const staging = quoteIdent(`drctl_copy_${Date.now()}`);
      await dst.query('begin');
      await dst.query(`create temp table ${staging} (like ${table} including defaults) on commit drop`);
      const out = src.client.query(copyTo(`copy (${select}) to stdout`));
      const inp = dst.client.query(copyFrom(`copy ${staging} from stdin`));
      try {
        await pipeline(out, inp, { signal: ctx.signal });
      } catch (err) {
        throw new OperationError('postgres.copy', `copy of ${i.table} from ${describeConn(from)} into ${describeConn(to)} failed: ${(err as Error).message}`);
      }
      const rows = inp.rowCount;
      await dst.query(`insert into ${table} select * from ${staging}${i.onConflictSkip ? ' on conflict do nothing' : ''}`);
      await dst.query('commit');
      await src.query('commit');
      ctx.log(`copied ${rows} row(s) of ${i.table} into ${describeConn(to)}`);
      return { rows };
    } catch (err) {
      await dst?.query('rollback').catch(() => {});
      throw err;
    } finally {
      await dst?.close();
      await src.close();
    }
  },
});

/**
 * The `where` is SQL by contract, but it must stay inside its subquery. The extended protocol
 * parses exactly one statement, so a `where` that closes the parenthesis to append `) to
 * program ...`, or a `;` and a second statement, fails here before any COPY is sent.
 */
async function checkSingleQuery(db: Db, select: string, conn: PgConn): Promise<void> {
  try {
    await db.client.query({ text: `${select} limit 0`, values: [] });
  } catch (err) {
    const e = pgError(err, conn);
    if ((err as { code?: string }).code?.startsWith('42')) throw new UsageError('usage.where', `where: not a condition on the table: ${(err as Error).message}`);
    throw e;
  }
}

