import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownedByPostgres } from '../support/archiving.js';
import { CLI, drctl, tempDir } from '../support/cli.js';
import { asPostgres, destroyPostgres, freePort, PG_BIN, startPostgres, type PgServer } from '../support/postgres.js';
import { startS3, type S3Server } from '../support/s3.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// Point-in-time recovery from an S3 repository (moto on loopback) whose endpoint is set in
// drctl.yaml only, as teams configure it: archive_command pushes every segment to S3, and the
// restored server's restore_command fetches from S3 under the server's own user, where neither
// that config file nor the operator's environment is.

const run = promisify(execFile);

describe('PITR from an S3 repository configured in drctl.yaml', () => {
  let s3: S3Server;
  let pg: PgServer;
  let config: string;
  let restoredDir: string | undefined;
  let target: string;
  const restored: string[] = [];
  const creds = () => ({ AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY!, AWS_REGION: s3.env.AWS_REGION!, AWS_ENDPOINT_URL_S3: undefined });

  beforeAll(async () => {
    s3 = await startS3();
    await s3.createBucket('drctl-pitr');
    // Readable by the server's user: archive_command runs drctl wal-push as it.
    const dir = ownedByPostgres(tempDir('drctl-pitr-s3-conf-'));
    chmodSync(dir, 0o755);
    config = path.join(dir, 'drctl.yaml');
    writeFileSync(config, `repo: s3://drctl-pitr/prod\ns3:\n  endpoint: ${s3.endpoint}\n  checksums: when_required\n`);
    chmodSync(config, 0o644);
    const c = creds();
    const command = `AWS_ACCESS_KEY_ID=${c.AWS_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY=${c.AWS_SECRET_ACCESS_KEY} AWS_REGION=${c.AWS_REGION} DRCTL_CONFIG=${config} ${process.execPath} ${CLI} wal-push %p`;
    pg = await startPostgres({ settings: { archive_mode: 'on', archive_command: `'${command}'`, wal_level: 'replica' } });
  }, 120_000);

  afterAll(async () => {
    for (const dir of restored) {
      if (existsSync(path.join(dir, 'postmaster.pid'))) {
        const [cmd, args] = asPostgres('pg_ctl', ['-D', dir, '-m', 'fast', '-w', 'stop']);
        await run(cmd, args).catch(() => {});
      }
      rmSync(path.dirname(dir), { recursive: true, force: true });
    }
    await destroyPostgres(pg);
    await s3?.stop();
  });

  async function switchAndWaitArchived(): Promise<void> {
    const segment = await pg.sql('select pg_walfile_name(pg_switch_wal())');
    const deadline = Date.now() + 30_000;
    while ((await pg.sql('select coalesce(last_archived_wal, \'\') from pg_stat_archiver')) < segment) {
      if (Date.now() > deadline) throw new Error(`segment ${segment} was not archived to S3 within 30s`);
      await sleep(200);
    }
  }

  it('restores to a time between two batches: the first batch back, the second not, promoted', async () => {
    await pg.sql('create database app');
    await pg.sql('create table orders (id int primary key, batch int)', 'app');
    await pg.sql('insert into orders select g, 1 from generate_series(1, 1000) g', 'app');
    const b = await drctl(['backup', '--type', 'base', '--config', config, '--source', pg.url('app')], { env: creds() });
    expect(b.code, b.all).toBe(0);
    await pg.sql('insert into orders select g, 2 from generate_series(1001, 2000) g', 'app');
    await sleep(50);
    target = await pg.sql("select to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", 'app');
    await sleep(50);
    await pg.sql('insert into orders select g, 3 from generate_series(2001, 3000) g', 'app');
    await switchAndWaitArchived();

    restoredDir = path.join(ownedByPostgres(tempDir('drctl-pitr-s3-')), 'data');
    restored.push(restoredDir);
    const port = await freePort();
    const r = await drctl(['restore', '--config', config, '--target-dir', restoredDir, '--pitr', target, '--start', '--port', String(port)], { env: creds(), timeoutMs: 170_000 });
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toMatch(/promoted on timeline 2; /);
    const url = pg.url('app').replace(`:${pg.port}/`, `:${port}/`);
    const q = async (sql: string) => (await run(path.join(PG_BIN, 'psql'), ['-X', '-q', '-A', '-t', '-d', url, '-c', sql])).stdout.trim();
    expect(await q('select batch, count(*) from orders group by batch order by batch')).toBe('1|1000\n2|1000');
    expect(await q('select pg_is_in_recovery()')).toBe('f');
  }, 180_000);

  it.runIf(process.getuid?.() === 0)('with credentials from a file only the operator can read (~/.aws), restore_command still reaches the repository', async () => {
    const home = tempDir('drctl-pitr-s3-aws-'); // 0700, root's: the server's user cannot read it
    const file = path.join(home, 'credentials');
    writeFileSync(file, `[default]\naws_access_key_id = ${s3.env.AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${s3.env.AWS_SECRET_ACCESS_KEY}\n`, { mode: 0o600 });
    const env = { AWS_SHARED_CREDENTIALS_FILE: file, AWS_REGION: s3.env.AWS_REGION!, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL_S3: undefined };
    const dir = path.join(ownedByPostgres(tempDir('drctl-pitr-s3-')), 'data');
    restored.push(dir);
    const port = await freePort();
    const r = await drctl(['restore', '--config', config, '--target-dir', dir, '--pitr', target, '--start', '--port', String(port), '--no-archive'], { env, timeoutMs: 170_000 });
    expect(r.code, r.all).toBe(0);
    const url = pg.url('app').replace(`:${pg.port}/`, `:${port}/`);
    expect((await run(path.join(PG_BIN, 'psql'), ['-X', '-q', '-A', '-t', '-d', url, '-c', 'select count(*) from orders'])).stdout.trim()).toBe('2000');
    // Nothing of the key on the command's output.
    expect(r.all).not.toContain(s3.env.AWS_SECRET_ACCESS_KEY!);
    rmSync(home, { recursive: true, force: true });
  }, 180_000);
});
