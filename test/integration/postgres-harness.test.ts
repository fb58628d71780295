import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePgUrl } from '../../src/adapters/postgres/conn.js';
import { runTool } from '../../src/adapters/postgres/tools.js';
import { OperationError } from '../../src/errors.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';

describe('test harness: throwaway PostgreSQL', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => destroyPostgres(pg));

  it('answers on loopback with password auth', async () => {
    expect(await pg.sql('select 1 + 1')).toBe('2');
    expect(await pg.sql('show server_version_num')).toMatch(/^15/);
  });

  it('a failing PostgreSQL tool is one line quoting its own message, without the password', async () => {
    const conn = parsePgUrl(pg.url('no_such_db'), process.env);
    const err = await runTool('pg_dump', ['--schema-only', '-d', conn.database], { env: process.env, conn, signal: new AbortController().signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toMatch(/^pg_dump failed \(exit 1\): .*database "no_such_db" does not exist$/);
    expect((err as Error).message).not.toContain(pg.password);
  });
});
