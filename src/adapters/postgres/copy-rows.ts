import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { parsePgUrl, describeConn } from './conn.js';
import { spawnTool, toolError } from './tools.js';

// postgres.copyRows (seed 003, accidental deletion): rows from a recovered copy back into the
// live database, streamed COPY to COPY through psql, in one transaction on the target.

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

export const postgresCopyRows = defineAction({
  name: 'postgres.copyRows',
  summary: 'Copy rows of a table from one database to another (COPY, streamed)',
  input: z.strictObject({
    from: z.string().min(1),
    to: z.string().min(1),
    table: z.string().regex(IDENT, 'a table name, optionally schema-qualified'),
    where: z.string().optional().meta({ description: 'SQL condition selecting the rows to copy' }),
    onConflictSkip: z.boolean().default(true).meta({ description: 'skip rows whose key already exists on the target' }),
  }),
  outputs: ['rows'],
  describe: (i) => `copy rows of ${i.table}${i.where ? ` where ${i.where}` : ''} into the target database`,
  async run(ctx, i) {
    const from = parsePgUrl(i.from, ctx.env, 'from');
    const to = parsePgUrl(i.to, ctx.env, 'to');
    const select = `select * from ${i.table}${i.where ? ` where ${i.where}` : ''}`;
    const staging = `drctl_copy_${Date.now()}`;
    // psql reads the script and then the COPY data from one stdin: head, rows, tail.
    const head = `begin;\ncreate temp table ${staging} (like ${i.table} including defaults) on commit drop;\n\\copy ${staging} from stdin\n`;
    const tail = `\\.\ninsert into ${i.table} select * from ${staging}${i.onConflictSkip ? ' on conflict do nothing' : ''};\ncommit;\n`;
    const out = await spawnTool('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `\\copy (${select}) to stdout`], { env: ctx.env, conn: from, signal: ctx.signal });
    const inp = await spawnTool('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-f', '-'], { env: ctx.env, conn: to, signal: ctx.signal, stdin: 'pipe' });
    let rows = 0;
    await pipeline(
      out.stdout,
      async function* (src) {
        yield Buffer.from(head);
        for await (const chunk of src) {
          for (const b of chunk as Buffer) if (b === 10) rows++;
          yield chunk as Buffer;
        }
        yield Buffer.from(tail);
      },
      inp.stdin as NodeJS.WritableStream,
    );
    const [ro, ri] = await Promise.all([out.done, inp.done]);
    if (ro.exitCode !== 0) throw toolError('psql', ro);
    if (ri.exitCode !== 0) throw toolError('psql', ri);
    if (/ROLLBACK/.test(ri.stderr)) throw new OperationError('postgres.copy', `copy into ${describeConn(to)} was rolled back`);
    ctx.log(`copied ${rows} row(s) of ${i.table} into ${describeConn(to)}`);
    return { rows };
  },
});
