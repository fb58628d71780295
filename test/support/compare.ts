import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { PG_BIN, type PgServer } from './postgres.js';

// Compares two databases the way a restore must be judged: identical schema dumps and an
// identical content hash for every table.

const run = promisify(execFile);

/** pg_dump --schema-only, without the per-run random \restrict keys and comments. */
export async function schemaDump(pg: PgServer, db: string): Promise<string> {
  const { stdout } = await run(path.join(PG_BIN, 'pg_dump'), ['--schema-only', '-d', pg.url(db)], { maxBuffer: 64 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((l) => !l.startsWith('--') && !l.startsWith('\\restrict') && !l.startsWith('\\unrestrict') && l.trim() !== '')
    .join('\n');
}

/** md5 of every user table's rows, keyed schema.table. */
export async function contentHashes(pg: PgServer, db: string): Promise<Record<string, string>> {
  const tables = (
    await pg.sql(
      `select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r','m') and n.nspname not in ('pg_catalog','information_schema') and n.nspname not like 'pg_toast%' order by 1`,
      db,
    )
  )
    .split('\n')
    .filter(Boolean);
  const out: Record<string, string> = {};
  for (const t of tables) {
    const [schema, name] = t.split('.');
    out[t] = await pg.sql(`select count(*) || ':' || coalesce(md5(string_agg(x::text, '|' order by x::text)), '') from "${schema}"."${name}" x`, db);
  }
  return out;
}
