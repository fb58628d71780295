import { describe, expect, it } from 'vitest';
import { createRoleSql, quoteLiteral, RolesFile, splitSettingList } from '../../src/adapters/postgres/roles.js';

// The statements a restore runs to create a role come from data in the backup: every name and
// value is quoted, whatever it holds.

const base = {
  superuser: false,
  inherit: true,
  createRole: false,
  createDb: false,
  login: true,
  replication: false,
  bypassRls: false,
  connectionLimit: -1,
  validUntil: null,
  config: [] as string[],
  comment: null,
};

describe('role statements', () => {
  it('quotes identifiers and literals, including quotes and backslashes', () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
    const sql = createRoleSql({ ...base, name: 'we"ird; drop role x', password: "SCRAM-SHA-256$4096:x'y", comment: "owner's role" });
    expect(sql[0]).toBe(`CREATE ROLE "we""ird; drop role x" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 PASSWORD 'SCRAM-SHA-256$4096:x''y'`);
    expect(sql[1]).toBe(`COMMENT ON ROLE "we""ird; drop role x" IS 'owner''s role'`);
  });

  it('gives each element of a list setting its own literal; other settings one literal; odd names are skipped', () => {
    const sql = createRoleSql({ ...base, name: 'app', config: ['search_path=sales, "Odd ""Schema""", public', 'work_mem=64MB', "statement_timeout=5s'; drop table t; --", 'bad name;=x'] });
    expect(sql.slice(1)).toEqual([
      `ALTER ROLE "app" SET search_path TO 'sales', 'Odd "Schema"', 'public'`,
      `ALTER ROLE "app" SET work_mem TO '64MB'`,
      `ALTER ROLE "app" SET statement_timeout TO '5s''; drop table t; --'`,
    ]);
    expect(splitSettingList('"a,b", c')).toEqual(['a,b', 'c']);
  });

  it('a roles object of another shape is refused', () => {
    expect(RolesFile.safeParse({ version: 1, passwords: true, roles: [{ name: 'x' }], memberships: [] }).success).toBe(false);
  });
});
