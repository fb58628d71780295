import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
