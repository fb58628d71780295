import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownedByPostgres, startArchivingPostgres, switchAndWaitArchived } from '../support/archiving.js';
import { drctl, tempDir } from '../support/cli.js';
import { asPostgres, destroyPostgres, freePort, type PgServer } from '../support/postgres.js';
import { execFileSync } from 'node:child_process';

// drctl restore --standby: a standby built from the repository alone (replaying archived WAL
// through restore_command) and one that also streams from the primary; then promoted.

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('drctl restore --standby', () => {
  let pg: PgServer;
  let repo: string;
  let repoDir: string;
  const dirs: string[] = [];
  const stops: string[] = [];

  beforeAll(async () => {
    ({ pg, repo, repoDir } = await startArchivingPostgres());
    await pg.sql('create table orders (id serial primary key, note text)');
    await pg.sql("insert into orders (note) select 'before backup' from generate_series(1, 50)");
    const b = await drctl(['backup', '--type', 'base', '--source', pg.url(), '--repo', repo]);
    expect(b.code, b.all).toBe(0);
    await pg.sql("insert into orders (note) select 'archived' from generate_series(1, 30)");
    await switchAndWaitArchived(pg, repoDir);
  }, 180_000);
  afterAll(async () => {
    for (const d of stops) {
      const [cmd, argv] = asPostgres('pg_ctl', ['-D', d, '-m', 'immediate', '-w', 'stop']);
      try {
        execFileSync(cmd, argv, { stdio: 'ignore' });
      } catch {
        // not running
      }
    }
    await destroyPostgres(pg);
    for (const d of [...dirs, repoDir]) rmSync(d, { recursive: true, force: true });
  });

  async function standby(extra: string[]) {
    const parent = ownedByPostgres(tempDir('drctl-standby-target-'));
    dirs.push(parent);
    const dir = path.join(parent, 'data');
    const port = await freePort();
    const r = await drctl(['--log-format', 'pretty', 'restore', '--standby', '--target-dir', dir, '--port', String(port), '--repo', repo, ...extra], { env: { DRCTL_STATE_DIR: path.join(parent, 'state') } });
    stops.push(dir);
    const url = pg.url().replace(`:${pg.port}/`, `:${port}/`);
    const sql = (q: string) => pgAt(url, q);
    return { ...r, dir, url, sql };
  }

  function pgAt(url: string, q: string): Promise<string> {
    return Promise.resolve(execFileSync('/usr/lib/postgresql/15/bin/psql', ['-X', '-q', '-A', '-t', '-d', url, '-c', q], { encoding: 'utf8' }).trim());
  }

  it('from the repository alone: replays the archive, keeps following it, and promotes with the rows archived before the loss', async () => {
    // --no-archive: its promotion must not archive a timeline 2 into the repository the primary uses.
    const s = await standby(['--no-archive']);
    expect(s.code, s.all).toBe(0);
    expect(s.stdout).toContain('replaying from the repository');
    expect(await s.sql('select pg_is_in_recovery()')).toBe('t');
    await until('the archived rows', async () => (await s.sql('select count(*) from orders')) === '80');
    // New WAL reaches the standby through the repository, as it is archived.
    await pg.sql("insert into orders (note) select 'archived later' from generate_series(1, 20)");
    await switchAndWaitArchived(pg, repoDir);
    await until('the later archived rows', async () => (await s.sql('select count(*) from orders')) === '100');
    const status = await drctl(['--log-format', 'pretty', 'run', runbookFile(`  - id: s\n    uses: postgres.replica.status\n    with: { url: "${s.url}" }\n`)]);
    expect(status.code, status.all).toBe(0);
    expect(status.stderr).toMatch(/catching-up|streaming/);
    // The primary is lost: promote the standby; what was archived came back, counted.
    await pg.stop();
    try {
      const p = await drctl(['--log-format', 'pretty', 'run', runbookFile(`  - id: p\n    uses: postgres.promote\n    with: { url: "${s.url}", primary: "${pg.url()}", countQuery: "select count(*) from orders", primaryRows: 100 }\n`)]);
      expect(p.code, p.all).toBe(0);
      expect(p.stderr).toContain('promoted to timeline 2');
      expect(p.stderr).toContain('0 rows lost');
      expect(await s.sql('select pg_is_in_recovery()')).toBe('f');
    } finally {
      await pg.start();
    }
  });

  it('with --primary-conninfo: streams from the primary (rows arrive without archiving) and the primary password stays out of the output', async () => {
    const s = await standby(['--primary-conninfo', pg.url()]);
    expect(s.code, s.all).toBe(0);
    expect(s.stdout).toContain('streaming from the primary');
    expect(s.all).not.toContain(pg.password);
    await pg.sql("insert into orders (note) select 'streamed' from generate_series(1, 7)");
    await until('the streamed rows', async () => (await s.sql("select count(*) from orders where note = 'streamed'")) === '7');
    expect(await s.sql('select status from pg_stat_wal_receiver')).toBe('streaming');
  });

  it('refuses --pitr with --standby, and --primary-conninfo without it (exit 2)', async () => {
    const t = tempDir();
    scratch.push(t);
    const a = await drctl(['restore', '--standby', '--target-dir', path.join(t, 'x'), '--pitr', 'latest', '--repo', repo]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--pitr');
    const b = await drctl(['restore', '--target-dir', path.join(t, 'x'), '--primary-conninfo', pg.url(), '--repo', repo]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('--primary-conninfo needs --standby');
    expect(b.all).not.toContain(pg.password);
  });
});

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function runbookFile(steps: string): string {
  const dir = tempDir();
  scratch.push(dir);
  const file = path.join(dir, 'rb.yaml');
  writeFileSync(file, `apiVersion: drctl/v1\nname: st\nsteps:\n${steps}`);
  return file;
}
