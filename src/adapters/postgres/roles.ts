import { Readable } from 'node:stream';
import { z } from 'zod';
import { OperationError } from '../../errors.js';
import type { Manifest, ObjectEntry } from '../../repository/manifest.js';
import type { Repository } from '../../repository/repository.js';
import type { ActionContext } from '../types.js';
import type { Db } from './client.js';
import { quoteIdent } from './conn.js';

// The cluster globals a logical backup needs to restore into a brand-new cluster: the roles
// that own objects of the database, are granted privileges on it (object, column, schema and
// default privileges, policies) or are members of those roles, with their attributes and
// memberships. pg_dump leaves them out, so a restore into a fresh initdb fails on the first
// ALTER ... OWNER TO. They are read from the catalogs in the backup's snapshot and stored as
// one more object of the backup (encrypted like the rest: password hashes are secrets).

export const ROLES_OBJECT = 'roles.json';

const Role = z.object({
  name: z.string().min(1),
  superuser: z.boolean(),
  inherit: z.boolean(),
  createRole: z.boolean(),
  createDb: z.boolean(),
  login: z.boolean(),
  replication: z.boolean(),
  bypassRls: z.boolean(),
  connectionLimit: z.number().int(),
  validUntil: z.string().nullable(),
  /** The stored hash (SCRAM or md5), when the backup could read pg_authid. */
  password: z.string().nullable().optional(),
  /** ALTER ROLE ... SET settings, as name=value. */
  config: z.array(z.string()),
  comment: z.string().nullable(),
});
const Membership = z.object({ role: z.string(), member: z.string(), admin: z.boolean() });
export const RolesFile = z.object({
  version: z.literal(1),
  /** False: the backup's user could not read password hashes; roles come back without passwords. */
  passwords: z.boolean(),
  roles: z.array(Role),
  memberships: z.array(Membership),
});
export type RolesFile = z.output<typeof RolesFile>;

// The database's own roles: referenced through pg_shdepend (owners, ACL entries of every
// object, column, schema and default privilege, policies), the database's owner and ACL,
// then every member of those roles, transitively. pg_shdepend skips the bootstrap superuser
// (a pinned role), so it is added as such: objects it owns need it too.
const ROLES_SQL = `
with recursive here as (select oid, datdba, datacl from pg_database where datname = current_database()),
referenced(oid) as (
  select refobjid from pg_shdepend where refclassid = 'pg_authid'::regclass and dbid = (select oid from here)
  union select datdba from here
  union select (aclexplode(datacl)).grantee from here where datacl is not null
  union select 10::oid
),
wanted(oid) as (
  select oid from referenced
  union select m.member from pg_auth_members m join wanted w on m.roleid = w.oid
)
select r.oid::int8::text as oid, r.rolname as name, r.rolsuper as superuser, r.rolinherit as inherit, r.rolcreaterole as "createRole",
       r.rolcreatedb as "createDb", r.rolcanlogin as login, r.rolreplication as replication, r.rolbypassrls as "bypassRls",
       r.rolconnlimit as "connectionLimit",
       case when r.rolvaliduntil is null then null when r.rolvaliduntil = 'infinity' then 'infinity'
            else to_char(r.rolvaliduntil at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') end as "validUntil",
       coalesce(r.rolconfig, '{}') as config, shobj_description(r.oid, 'pg_authid') as comment
  from pg_roles r join wanted w on w.oid = r.oid
 where r.oid = 10 or r.oid >= 16384
 order by r.rolname`;

/** Reads the roles the current database needs; run it inside the backup's snapshot. */
export async function readRoles(db: Db): Promise<RolesFile> {
  const rows = await db.query<Omit<z.output<typeof Role>, 'password'> & { oid: string }>(ROLES_SQL);
  const oids = rows.map((r) => r.oid);
  // Password hashes live in pg_authid, which only superusers may read; asking first keeps an
  // error from aborting the snapshot transaction pg_dump runs in.
  const [can] = await db.query<{ ok: boolean }>(`select has_table_privilege('pg_catalog.pg_authid', 'select') as ok`);
  const hashes = new Map<string, string | null>();
  if (can?.ok) {
    for (const h of await db.query<{ oid: string; password: string | null }>(`select oid::int8::text as oid, rolpassword as password from pg_authid where oid::int8::text = any($1)`, [oids])) {
      hashes.set(h.oid, h.password);
    }
  }
  const memberships = await db.query<z.output<typeof Membership>>(
    `select r.rolname as role, m.rolname as member, a.admin_option as admin
       from pg_auth_members a join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member
      where a.member::int8::text = any($1) and (a.roleid::int8::text = any($1) or a.roleid < 16384)
      order by 1, 2`,
    [oids],
  );
  return {
    version: 1,
    passwords: can?.ok === true,
    roles: rows.map(({ oid, ...r }) => ({ ...r, password: can?.ok ? (hashes.get(oid) ?? null) : undefined })),
    memberships,
  };
}

/** The roles object as a stream for Repository.writeObject. */
export function rolesBody(f: RolesFile): Readable {
  return Readable.from([Buffer.from(`${JSON.stringify(f, null, 2)}\n`)]);
}

/** The roles object of a backup, or undefined for a backup made before drctl stored roles. */
export async function loadRoles(repo: Repository, m: Manifest, o: { signal?: AbortSignal }): Promise<RolesFile | undefined> {
  const entry = rolesEntry(m);
  if (!entry) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of await repo.readObject(m, entry, o)) chunks.push(c as Buffer);
  const parsed = RolesFile.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  if (!parsed.success) throw new OperationError('backup.roles', `backup ${m.id}: ${ROLES_OBJECT} is not a roles list drctl can read`);
  return parsed.data;
}

export function rolesEntry(m: Manifest): ObjectEntry | undefined {
  return m.objects.find((o) => o.path.split('/').pop() === ROLES_OBJECT);
}

/** A SQL string literal, as libpq's PQescapeLiteral writes it. */
export function quoteLiteral(s: string): string {
  const body = s.replace(/'/g, "''");
  return s.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

// Settings whose value is a list of (possibly quoted) names: ALTER ROLE ... SET must get each
// element as its own literal, else 'a, b' would become one name "a, b".
const LIST_SETTINGS = new Set(['search_path', 'temp_tablespaces', 'session_preload_libraries', 'shared_preload_libraries', 'local_preload_libraries', 'unix_socket_directories']);

/** Splits a stored list setting (`"My Schema", public`) into its elements. */
export function splitSettingList(v: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    while (v[i] === ' ' || v[i] === ',') i++;
    if (i >= v.length) break;
    let item = '';
    if (v[i] === '"') {
      i++;
      while (i < v.length) {
        if (v[i] === '"' && v[i + 1] === '"') {
          item += '"';
          i += 2;
        } else if (v[i] === '"') {
          i++;
          break;
        } else item += v[i++];
      }
    } else {
      while (i < v.length && v[i] !== ',') item += v[i++];
      item = item.trim();
    }
    out.push(item);
    while (i < v.length && v[i] !== ',') i++;
  }
  return out;
}

/** CREATE ROLE and ALTER ROLE ... SET / COMMENT statements for one role. */
export function createRoleSql(r: z.output<typeof Role>): string[] {
  const flag = (on: boolean, name: string) => (on ? name : `NO${name}`);
  const parts = [
    flag(r.superuser, 'SUPERUSER'),
    flag(r.inherit, 'INHERIT'),
    flag(r.createRole, 'CREATEROLE'),
    flag(r.createDb, 'CREATEDB'),
    flag(r.login, 'LOGIN'),
    flag(r.replication, 'REPLICATION'),
    flag(r.bypassRls, 'BYPASSRLS'),
    `CONNECTION LIMIT ${Math.trunc(r.connectionLimit)}`,
  ];
  if (r.validUntil) parts.push(`VALID UNTIL ${quoteLiteral(r.validUntil)}`);
  if (r.password) parts.push(`PASSWORD ${quoteLiteral(r.password)}`);
  const role = quoteIdent(r.name);
  const sql = [`CREATE ROLE ${role} WITH ${parts.join(' ')}`];
  for (const c of r.config) {
    const eq = c.indexOf('=');
    if (eq <= 0) continue;
    const name = c.slice(0, eq);
    const value = c.slice(eq + 1);
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) continue;
    const values = LIST_SETTINGS.has(name.toLowerCase()) ? splitSettingList(value) : [value];
    sql.push(`ALTER ROLE ${role} SET ${name} TO ${values.map(quoteLiteral).join(', ')}`);
  }
  if (r.comment !== null) sql.push(`COMMENT ON ROLE ${role} IS ${quoteLiteral(r.comment)}`);
  return sql;
}

export interface RolesApplied {
  created: string[];
  existing: string[];
  withoutPassword: string[];
}

/**
 * Creates, in one transaction, the roles of `f` the target server lacks, and the memberships
 * that involve a role it created. A role that exists is never altered, dropped or given a
 * membership: it is left exactly as it is.
 */
export async function createMissingRoles(ctx: ActionContext, admin: Db, f: RolesFile): Promise<RolesApplied> {
  for (const r of f.roles) ctx.secret(r.password ?? undefined);
  const names = f.roles.map((r) => r.name);
  const exists = new Set((await admin.query<{ rolname: string }>('select rolname from pg_roles where rolname = any($1)', [names])).map((r) => r.rolname));
  const missing = f.roles.filter((r) => !exists.has(r.name));
  const out: RolesApplied = { created: missing.map((r) => r.name), existing: names.filter((n) => exists.has(n)), withoutPassword: [] };
  if (!missing.length) return out;
  const created = new Set(out.created);
  const all = new Set((await admin.query<{ rolname: string }>('select rolname from pg_roles')).map((r) => r.rolname));
  for (const n of created) all.add(n);
  const statements: string[] = [];
  for (const r of missing) {
    statements.push(...createRoleSql(r));
    if (r.login && !r.password) out.withoutPassword.push(r.name);
  }
  for (const m of f.memberships) {
    if (!(created.has(m.member) || created.has(m.role)) || !all.has(m.member) || !all.has(m.role)) continue;
    statements.push(`GRANT ${quoteIdent(m.role)} TO ${quoteIdent(m.member)}${m.admin ? ' WITH ADMIN OPTION' : ''}`);
  }
  await admin.query('begin');
  try {
    for (const s of statements) await admin.query(s);
    await admin.query('commit');
  } catch (err) {
    await admin.query('rollback').catch(() => {});
    throw new OperationError(
      'restore.roles',
      `could not create the roles the backup needs (${out.created.join(', ')}): ${(err as Error).message}. Create them yourself, or restore with --no-roles`,
    );
  }
  return out;
}

/** Drops roles this run created (a failed or throwaway restore); best effort. */
export async function dropCreatedRoles(admin: Db, names: string[]): Promise<void> {
  for (const n of [...names].reverse()) await admin.query(`drop role if exists ${quoteIdent(n)}`).catch(() => {});
}
