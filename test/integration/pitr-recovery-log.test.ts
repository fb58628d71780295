import { execFile, spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archived, ownedByPostgres, startArchivingPostgres, switchAndWaitArchived } from '../support/archiving.js';
import { drctl, tempDir } from '../support/cli.js';
import { asPostgres, destroyPostgres, freePort, PG_BIN, type PgServer } from '../support/postgres.js';

// A point-in-time restore is judged by what the server drctl started says about its own
// recovery: not by an older recovery's log that came along in the base backup (the source was
// itself restored by drctl), and not by the clients refused at its port while it replays.

const run = promisify(execFile);
const LOG = 'drctl-recovery.log';

describe('a recovery is judged by the server drctl started, and by nothing else', () => {
  let pg: PgServer;
  let repoDir: string;
  let repo: string;
  let firstTarget: string;
  let base1: string;
  const started: string[] = [];

  /** The source's server as if it listened on `port`: a restored copy of it. */
  function at(port: number): PgServer {
    const url = (db = 'postgres') => pg.url(db).replace(`:${pg.port}/`, `:${port}/`);
    const sql = async (q: string, db = 'postgres') => (await run(path.join(PG_BIN, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url(db), '-c', q])).stdout.trim();
    return { ...pg, port, url, sql };
  }

  async function stop(dir: string): Promise<void> {
    if (!existsSync(path.join(dir, 'postmaster.pid'))) return;
    const [cmd, args] = asPostgres('pg_ctl', ['-D', dir, '-m', 'fast', '-w', 'stop']);
    await run(cmd, args).catch(() => {});
  }

  async function restore(args: string[], port?: number): Promise<{ code: number | null; all: string; stdout: string; dir: string; port: number }> {
    const dir = path.join(ownedByPostgres(tempDir('drctl-pitr-log-')), 'data');
    const p = port ?? (await freePort());
    started.push(dir);
    const r = await drctl(['restore', '--repo', repo, '--target-dir', dir, '--start', '--port', String(p), ...args]);
    return { ...r, dir, port: p };
  }

  const labels = "select string_agg(label, ',' order by id) from events";

  beforeAll(async () => {
    ({ pg, repoDir, repo } = await startArchivingPostgres());
    await pg.sql('create database app');
    await pg.sql('create table events (id int primary key, label text)', 'app');
    const b = await drctl(['backup', '--type', 'base', '--source', pg.url('app'), '--repo', repo]);
    expect(b.code, b.all).toBe(0);
    base1 = b.stdout.trim();
    await pg.sql("insert into events values (1, 't1')", 'app');
    await sleep(20);
    firstTarget = await pg.sql("select to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", 'app');
    await sleep(20);
    await pg.sql("insert into events values (2, 't2')", 'app');
    // WAL enough that replaying it takes a while: the window in which clients are refused.
    await pg.sql("create table filler as select g as id, repeat('x', 400) as pad from generate_series(1, 150000) g", 'app');
    await switchAndWaitArchived(pg, repoDir);
  }, 180_000);

  afterAll(async () => {
    for (const d of started) await stop(d);
    await destroyPostgres(pg);
  });

  it('a restore from a base backup of a server drctl restored: the second recovery\'s own data and timeline, and its own failure', async () => {
    // The first recovery, a real one: promoted on timeline 2, archiving it into the same repository.
    const first = await restore(['--pitr', firstTarget]);
    expect(first.code, first.all).toBe(0);
    expect(first.stdout).toMatch(/promoted on timeline 2; /);
    const firstPg = at(first.port);
    expect(await firstPg.sql(labels, 'app')).toBe('t1');
    // Its target and restore_command were this recovery's only, not the new primary's settings.
    const auto = path.join(first.dir, 'postgresql.auto.conf');
    expect(readFileSync(auto, 'utf8')).not.toMatch(/recovery_target|restore_command/);
    // As an older drctl left a promoted restore: its settings still there, with a target that
    // lies before the base backup taken below.
    appendFileSync(auto, `\n# drctl restore of an-older-restore\nrestore_command = 'false'\nrecovery_target_time = '${firstTarget.replace('T', ' ').replace('Z', '+00')}'\nrecovery_target_action = 'promote'\n`);
    // The promoted server keeps writing the recovery log in its data directory: a base backup
    // of it carries that log, promotion lines and all.
    expect(readFileSync(path.join(first.dir, LOG), 'utf8')).toContain('database system is ready to accept connections');

    await firstPg.sql("insert into events values (20, 'tl2 before the backup')", 'app');
    const b = await drctl(['backup', '--type', 'base', '--source', firstPg.url('app'), '--repo', repo]);
    expect(b.code, b.all).toBe(0);
    const second = b.stdout.trim();
    expect(JSON.parse((await drctl(['backups', 'show', second, '--repo', repo])).stdout).pg.timeline).toBe(2);
    await firstPg.sql("insert into events values (21, 'tl2 after the backup')", 'app');
    // Replayed after the restored server is consistent (and accepts read-only connections).
    await firstPg.sql("create table filler2 as select g as id, repeat('y', 400) as pad from generate_series(1, 150000) g", 'app');
    await switchAndWaitArchived(firstPg, repoDir, 2);

    // The second recovery, from that backup: to the end of timeline 2, promoted on timeline 3.
    const again = await restore(['--backup', second, '--pitr', 'latest', '--no-archive']);
    expect(again.code, again.all).toBe(0);
    expect(again.stdout).toMatch(/promoted on timeline 3; /);
    const againPg = at(again.port);
    expect(await againPg.sql(labels, 'app')).toBe('t1,tl2 before the backup,tl2 after the backup');
    expect(await againPg.sql('select count(*) from filler2', 'app')).toBe('150000');
    expect(await againPg.sql('select pg_is_in_recovery()')).toBe('f');
    expect(await againPg.sql("select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")).toBe('00000003');
    // Its log is its own: one recovery, one new timeline.
    const log = readFileSync(path.join(again.dir, LOG), 'utf8');
    expect(log.match(/selected new timeline ID: \d+/g)).toEqual(['selected new timeline ID: 3']);
    // Promoted: restore_command's credentials are gone, beside the directory as well.
    expect(readdirSync(path.dirname(again.dir))).toEqual(['data']);
    await stop(again.dir);

    // The same restore, failing: its port is taken (by the first restored server). The
    // inherited log's promotion must not make it a success.
    const failed = await restore(['--backup', second, '--pitr', 'latest', '--no-archive'], first.port);
    expect(failed.code, failed.all).toBe(1);
    expect(failed.all).toMatch(/the restored server failed: (could not create any TCP\/IP sockets|lock file .* already exists)/);
    expect(failed.all).not.toMatch(/promoted on timeline/);
    // The server it started is gone: nothing can run restore_command any more.
    expect(readdirSync(path.dirname(failed.dir))).toEqual(['data']);
    expect(archived(repoDir, 3)).toEqual([]);
    await stop(first.dir);
  }, 240_000);

  it('clients refused at the port while the server replays (starting up, a wrong password) do not fail the recovery', async () => {
    const port = await freePort();
    const wrong = pg.url('app').replace(`:${pg.port}/`, `:${port}/`).replace(encodeURIComponent(pg.password), 'not-the-password');
    let knocking = true;
    let refused = 0;
    // Four clients, as an application's pool would, from before the server starts until drctl is done.
    const clients = Array.from({ length: 4 }, async () => {
      while (knocking) {
        const code = await new Promise<number | null>((resolve) => {
          const c = spawn(path.join(PG_BIN, 'psql'), ['-X', '-q', '-d', wrong, '-c', 'select 1'], { stdio: 'ignore', env: { ...process.env, PGCONNECT_TIMEOUT: '2' } });
          c.on('close', resolve);
          c.on('error', () => resolve(null));
        });
        if (code !== 0) refused++;
        await sleep(20);
      }
    });
    let r: Awaited<ReturnType<typeof restore>>;
    try {
      // Timeline 1, from its base backup: the test above may have added a timeline 2.
      r = await restore(['--backup', base1, '--timeline', '1', '--pitr', 'latest', '--no-archive'], port);
    } finally {
      knocking = false;
      await Promise.all(clients);
    }
    expect(r.code, r.all).toBe(0);
    expect(refused).toBeGreaterThan(0);
    // The clients really were refused by the server while it recovered, before it promoted.
    const log = readFileSync(path.join(r.dir, LOG), 'utf8');
    const promotedAt = log.indexOf('database system is ready to accept connections');
    expect(promotedAt).toBeGreaterThan(0);
    expect(log.slice(0, promotedAt)).toMatch(/FATAL: {2}(the database system is starting up|the database system is not yet accepting connections|password authentication failed)/);
    const restoredPg = at(r.port);
    expect(await restoredPg.sql(labels, 'app')).toBe('t1,t2');
    expect(await restoredPg.sql('select count(*) from filler', 'app')).toBe('150000');
    expect(readdirSync(path.dirname(r.dir))).toEqual(['data']);
    await stop(r.dir);
  }, 180_000);

  it('a server killed outright while it recovers fails the restore at once, not at the 30-minute start timeout', async () => {
    const dir = path.join(ownedByPostgres(tempDir('drctl-pitr-log-')), 'data');
    started.push(dir);
    // restore_command's first call to drctl wal-fetch (a timeline history probe) waits on this
    // file: the server sits in recovery, its startup process inside restore_command.
    const pause = path.join(ownedByPostgres(tempDir('drctl-pause-')), 'wal-fetch');
    const port = await freePort();
    let done = false;
    const pending = drctl(['restore', '--repo', repo, '--target-dir', dir, '--start', '--port', String(port), '--backup', base1, '--timeline', '1', '--pitr', 'latest', '--no-archive'], {
      env: { DRCTL_PAUSE: `wal-fetch:${pause}` },
      timeoutMs: 150_000,
    }).finally(() => (done = true));
    try {
      while (!existsSync(pause) && !done) await sleep(50);
      expect(existsSync(pause), 'the recovery reached restore_command').toBe(true);
      // As the kernel's OOM killer would: no shutdown, no line in the log.
      const postmaster = Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(postmaster, 'SIGKILL');
      const killedAt = Date.now();
      const r = await pending;
      expect(Date.now() - killedAt).toBeLessThan(20_000);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toMatch(/the restored server failed: the server stopped during recovery without writing why in its log/);
      expect(r.all).not.toMatch(/promoted on timeline|still replaying/);
    } finally {
      // The orphaned startup process ends once restore_command returns.
      rmSync(pause, { force: true });
      await pending;
    }
  }, 180_000);
});
