import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, type CliOptions } from '../support/cli.js';
import { schemaDump } from '../support/compare.js';
import { destroyPostgres, PG_BIN, startPostgres, type PgServer } from '../support/postgres.js';

const run = promisify(execFile);

// The real disaster is a lost server: the restore goes into a freshly initialised cluster that
// has none of the source's roles. A logical backup carries the roles its database needs.

const PASSWORD = 'app-owner-pw-canary-71f3';

const SOURCE_SQL = [
  `create role app_owner login password '${PASSWORD}' connection limit 7 valid until '2099-01-01 00:00:00+00'`,
  `alter role app_owner set search_path = sales, "Odd Schema", public`,
  `comment on role app_owner is 'owns the app'`,
  'create role readers nologin',
  'create role alice login in role readers',
  'create role bob nologin in role alice',
  'create role auditor nologin',
  'create role "Mixed Case" nologin createdb',
  'create role already_there nologin createdb',
  'create role unrelated login',
  'grant pg_read_all_stats to alice',
  'create database app owner app_owner',
];

const APP_SQL = [
  'create schema sales authorization app_owner',
  'set role app_owner',
  'create table sales.orders (id int primary key, note text, amount int)',
  "insert into sales.orders select g, 'n' || g, g from generate_series(1, 50) g",
  'grant usage on schema sales to readers',
  'grant select on sales.orders to readers',
  'grant select (id, amount) on sales.orders to auditor',
  'alter default privileges in schema sales grant select on tables to readers',
  'alter default privileges in schema sales grant usage on sequences to "Mixed Case"',
  'reset role',
  'grant select on sales.orders to already_there',
];

const ROLE_FACTS = `select rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil, rolconfig, shobj_description(oid, 'pg_authid')
  from pg_roles where rolname in ('app_owner', 'readers', 'alice', 'bob', 'auditor', 'Mixed Case') order by 1`;
const MEMBERSHIPS = `select r.rolname || ' > ' || m.rolname || ' ' || a.admin_option from pg_auth_members a join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member
  where m.rolname in ('app_owner', 'readers', 'alice', 'bob', 'auditor', 'Mixed Case') order by 1`;

describe('a logical backup restores into a freshly initialised cluster', () => {
  let root: string;
  let source: PgServer;
  let fresh: PgServer;
  let other: PgServer;
  let repo: string;
  let backupId: string;
  let cli: CliOptions;

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'drctl-roles-test-'));
    chmodSync(root, 0o711); // the postgres user runs the scratch cluster below it
    // Everything drctl creates (state, scratch clusters, spools) stays under this test's root.
    cli = { cwd: root, env: { TMPDIR: root, DRCTL_STATE_DIR: path.join(root, 'state') } };
    [source, fresh, other] = await Promise.all([startPostgres(), startPostgres(), startPostgres()]);
    for (const q of SOURCE_SQL) await source.sql(q);
    await source.sql(APP_SQL.join(';\n'), 'app');
    // The target already has one of the roles, with another attribute: it must stay as it is.
    await fresh.sql('create role already_there login nocreatedb');
    repo = `file://${path.join(root, 'repo')}`;
    const b = await drctl(['backup', '--source', source.url('app'), '--repo', repo], cli);
    expect(b.code, b.all).toBe(0);
    backupId = b.stdout.trim();
  }, 120_000);

  afterAll(async () => {
    await Promise.all([destroyPostgres(source), destroyPostgres(fresh), destroyPostgres(other)]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('stores the roles as a checksummed object of the backup, not in the manifest', async () => {
    const m = JSON.parse((await drctl(['backups', 'show', backupId, '--repo', repo], cli)).stdout);
    const roles = m.objects.find((o: { path: string }) => o.path.endsWith('roles.json'));
    expect(roles.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.extra.roles).toMatchObject({ passwords: true });
    expect(JSON.stringify(m)).not.toContain('SCRAM-SHA-256$');
  });

  it('restore creates the missing roles first: owners, grants, column ACLs, memberships and default privileges come back identical', async () => {
    const r = await drctl(['restore', '--backup', backupId, '--target', fresh.url('app'), '--repo', repo], cli);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/sales\.orders\s+50/);
    const created = /created role\(s\): (.*)/.exec(r.stdout)?.[1]?.split(', ').sort();
    expect(created).toEqual(['Mixed Case', 'alice', 'app_owner', 'auditor', 'bob', 'readers']);
    expect(r.all).not.toContain('SCRAM-SHA-256$');

    expect(await schemaDump(fresh, 'app')).toBe(await schemaDump(source, 'app'));
    expect(await fresh.sql(ROLE_FACTS)).toBe(await source.sql(ROLE_FACTS));
    expect(await fresh.sql(MEMBERSHIPS)).toBe(await source.sql(MEMBERSHIPS));
    // The password hash came along: the application logs in with its own password.
    const login = fresh.url('app').replace(`postgres:${encodeURIComponent(fresh.password)}@`, `app_owner:${PASSWORD}@`);
    const { stdout } = await run(path.join(PG_BIN, 'psql'), ['-X', '-A', '-t', '-d', login, '-c', 'select current_user, count(*) from sales.orders']);
    expect(stdout.trim()).toBe('app_owner|50');

    // Not needed by the database: not created. Existing: untouched.
    expect(await fresh.sql("select count(*) from pg_roles where rolname = 'unrelated'")).toBe('0');
    expect(await fresh.sql("select rolcanlogin || ' ' || rolcreatedb from pg_roles where rolname = 'already_there'")).toBe('true false');
  });

  it('--no-roles skips them: a fresh cluster then lacks the owners and the restore fails, creating nothing', async () => {
    const r = await drctl(['restore', '--backup', backupId, '--target', other.url('app'), '--repo', repo, '--no-roles'], cli);
    expect(r.code).toBe(1);
    expect(r.all).toMatch(/role \\?"app_owner\\?" does not exist/);
    expect(await other.sql("select count(*) from pg_roles where rolname in ('app_owner', 'readers', 'alice')")).toBe('0');
  });

  it('a restore user who may create databases but not roles: it fails naming the roles, and the database it created is dropped', async () => {
    await other.sql("create role restorer login createdb password 'restorer-pw'");
    const asRestorer = other.url('app_new').replace(`postgres:${encodeURIComponent(other.password)}@`, 'restorer:restorer-pw@');
    const r = await drctl(['restore', '--backup', backupId, '--target', asRestorer, '--repo', repo], cli);
    expect(r.code, r.all).toBe(1);
    expect(r.all).toMatch(/could not create the roles the backup needs \(.*app_owner.*\): .*permission denied to create role/);
    expect(await other.sql("select count(*) from pg_database where datname = 'app_new'")).toBe('0');
    expect(await other.sql("select count(*) from pg_roles where rolname in ('app_owner', 'readers', 'alice')")).toBe('0');
    await other.sql('drop role restorer');
  });

  it('verify-backups --test-restore passes on a scratch cluster and on a scratch server, which keeps no role afterwards', async () => {
    const auto = await drctl(['verify-backups', '--repo', repo, '--test-restore', '--scratch', 'auto', '--json'], cli);
    expect(auto.code, auto.all).toBe(0);
    expect(JSON.parse(auto.stdout).checks.find((c: { name: string }) => c.name === 'test-restore').status).toBe('pass');
    expect(readdirSync(root).filter((d) => d.startsWith('drctl-scratch-'))).toEqual([]);

    const url = await drctl(['verify-backups', '--repo', repo, '--test-restore', '--scratch', other.url(), '--json'], cli);
    expect(url.code, url.all).toBe(0);
    expect(url.all).toContain('created role(s): ');
    expect(await other.sql("select count(*) from pg_roles where rolname in ('app_owner', 'readers', 'alice', 'bob', 'auditor', 'Mixed Case')")).toBe('0');
    expect(await other.sql("select count(*) from pg_database where datname like 'drctl_verify_%'")).toBe('0');
  });

  it('a backup by a user who cannot read password hashes stores the roles without them, and says so', async () => {
    const asOwner = source.url('app').replace(`postgres:${encodeURIComponent(source.password)}@`, `app_owner:${PASSWORD}@`);
    const b = await drctl(['backup', '--source', asOwner, '--repo', repo], cli);
    expect(b.code, b.all).toBe(0);
    expect(b.all).toMatch(/warning: password hashes not stored: app_owner cannot read pg_authid/);
    const m = JSON.parse((await drctl(['backups', 'show', b.stdout.trim(), '--repo', repo], cli)).stdout);
    expect(m.extra.roles.passwords).toBe(false);
    expect(m.extra.roles.note).toContain('restore without passwords');
  });
});
