import type { DbStats } from '../../repository/manifest.js';
import { quoteIdent, type PgConn } from './conn.js';
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

/**
 * Row counts: exact (one statement) for tables the planner believes smaller than
 * `exactBelow` rows, or that were never analysed; the planner's estimate, marked, for larger
 * ones, where count(*) would cost as much as the backup itself. Comparisons allow a tolerance
 * for estimated counts.
 */
export async function rowCounts(
  db: Db,
  tables: { schema: string; name: string }[],
  exactBelow = Number.POSITIVE_INFINITY,
): Promise<{ schema: string; name: string; rows: number; estimated?: boolean }[]> {
  if (!tables.length) return [];
  const estimates = new Map<string, number>();
  if (Number.isFinite(exactBelow)) {
    const est = await db.query<{ schema: string; name: string; n: string }>(
      `select n.nspname as schema, c.relname as name, c.reltuples::bigint as n from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'p')`,
    );
    for (const e of est) estimates.set(`${e.schema}.${e.name}`, Number(e.n));
  }
  const big = (t: { schema: string; name: string }) => (estimates.get(`${t.schema}.${t.name}`) ?? -1) >= exactBelow;
  const exact = tables.filter((t) => !big(t));
  const counted = new Map<number, number>();
  if (exact.length) {
    const parts = exact.map((t, i) => `select ${i} as i, count(*)::bigint as n from only ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
    for (const r of await db.query<{ i: number; n: string }>(parts.join(' union all '))) counted.set(Number(r.i), Number(r.n));
  }
  return tables.map((t) => {
    if (big(t)) return { ...t, rows: estimates.get(`${t.schema}.${t.name}`)!, estimated: true };
    return { ...t, rows: counted.get(exact.indexOf(t)) ?? 0 };
  });
}

/** Tables of this many rows or more (by the planner's estimate) are not counted exactly. */
export const EXACT_COUNT_LIMIT = 1_000_000;

export async function collectStats(db: Db, exactBelow = EXACT_COUNT_LIMIT): Promise<DbStats> {
  const tables = await rowCounts(db, await userTables(db), exactBelow);
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

/** Facts about the source recorded in the manifest. */
export async function sourceInfo(db: Db, conn: PgConn): Promise<Record<string, string | number>> {
  const [r] = await db.query<{ v: string; sysid: string; size: string }>(
    `select current_setting('server_version') as v, (select system_identifier::text from pg_control_system()) as sysid, pg_database_size(current_database())::text as size`,
  );
  return { host: conn.host, port: conn.port, database: conn.database, serverVersion: r?.v ?? '', systemIdentifier: r?.sysid ?? '', databaseSize: Number(r?.size ?? 0) };
}
