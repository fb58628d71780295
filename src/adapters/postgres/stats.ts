import type { DbStats } from '../../repository/manifest.js';
import { quoteIdent } from './conn.js';
import type { Db } from './client.js';

// What a backup records about its database so that verification and restore can compare:
// tables with exact row counts, functions, row-level-security policies, extensions.

const USER_SCHEMAS = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%' and n.nspname not like 'pg_temp%'`;

export async function userTables(db: Db): Promise<{ schema: string; name: string }[]> {
  return db.query<{ schema: string; name: string }>(
    `select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and ${USER_SCHEMAS}
        and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')
      order by 1, 2`,
  );
}

/** Exact row counts, in one statement. */
export async function rowCounts(db: Db, tables: { schema: string; name: string }[]): Promise<{ schema: string; name: string; rows: number }[]> {
  if (!tables.length) return [];
  const parts = tables.map((t, i) => `select ${i} as i, count(*)::bigint as n from only ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
  const rows = await db.query<{ i: number; n: string }>(parts.join(' union all '));
  const byIndex = new Map(rows.map((r) => [Number(r.i), Number(r.n)]));
  return tables.map((t, i) => ({ ...t, rows: byIndex.get(i) ?? 0 }));
}

export async function collectStats(db: Db): Promise<DbStats> {
  const tables = await rowCounts(db, await userTables(db));
  const functions = await db.query<{ f: string }>(
    `select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as f
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where ${USER_SCHEMAS} and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
      order by 1`,
  );
  const policies = await db.query<{ p: string }>(`select schemaname || '.' || tablename || ':' || policyname as p from pg_policies order by 1`);
  const extensions = await db.query<{ e: string }>(`select extname as e from pg_extension order by 1`);
  return { tables, functions: functions.map((r) => r.f), policies: policies.map((r) => r.p), extensions: extensions.map((r) => r.e) };
}

/** Number of user relations: zero means an empty database. */
export async function relationCount(db: Db): Promise<number> {
  const [r] = await db.query<{ n: string }>(
    `select count(*) as n from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r','p','v','m','S','f') and ${USER_SCHEMAS}`,
  );
  return Number(r?.n ?? 0);
}
