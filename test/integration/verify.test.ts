import { chmodSync, cpSync, existsSync, ftruncateSync, openSync, closeSync, readdirSync, readFileSync, statSync, writeSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archived, ownedByPostgres, startArchivingPostgres, switchAndWaitArchived } from '../support/archiving.js';
import { drctl, tempDir, type CliResult } from '../support/cli.js';
import { startFakeTwilio, startWebhook, type FakeTwilio } from '../support/fake-twilio.js';
import { destroyPostgres, psqlFile, startPostgres, type PgServer } from '../support/postgres.js';

const RICH = path.resolve(import.meta.dirname, '..', 'fixtures', 'rich-schema.sql');

interface Check {
  name: string;
  status: string;
  figure: string;
  backup?: string;
}
const checksOf = (r: CliResult): Check[] => JSON.parse(r.stdout).checks as Check[];
const failed = (r: CliResult) => checksOf(r).filter((c) => c.status === 'fail');
/** This test's own temp dir for drctl's scratch cluster: other test files create theirs in the shared one. */
function scratchRoot(): string {
  const dir = tempDir('drctl-verify-tmp-');
  chmodSync(dir, 0o711); // the postgres user runs the scratch cluster below it
  return dir;
}
const historyCount = (repoDir: string) => (existsSync(path.join(repoDir, 'history', 'verify')) ? readdirSync(path.join(repoDir, 'history', 'verify')).length : 0);

describe('verify-backups', () => {
  let pg: PgServer;
  let n = 0;

  beforeAll(async () => {
    pg = await startPostgres();
    await pg.sql('create database app');
    await psqlFile(pg, RICH, 'app');
  });
  afterAll(async () => destroyPostgres(pg));

  // A stale backup is forced, not waited for: verify-backups starts in a new process after the
  // backup's process recorded its stop time and exited, so the backup is always older than a
  // 1 ms --max-age. The age figures themselves are tested with a fixed clock in
  // test/unit/verify-clock.test.ts.

  /** A fresh database (copy of app) and repository with one healthy backup. */
  async function scenario(): Promise<{ db: string; repoDir: string; repo: string }> {
    const db = `s${++n}`;
    await pg.sql(`create database ${db} template app`);
    const repoDir = tempDir('drctl-verify-');
    const repo = `file://${repoDir}`;
    expect((await drctl(['backup', '--source', pg.url(db), '--repo', repo])).code).toBe(0);
    return { db, repoDir, repo };
  }

  it('a healthy repository passes every check, with a test restore into a throwaway cluster that is removed afterwards', async () => {
    const { db, repoDir, repo } = await scenario();
    expect((await drctl(['backup', '--source', pg.url(db), '--repo', repo])).code).toBe(0);
    const tmp = scratchRoot();
    const metrics = path.join(tempDir(), 'drctl.prom');
    const r = await drctl(['verify-backups', '--repo', repo, '--test-restore', '--scratch', 'auto', '--critical-tables', 'tenants,leads,billing.invoices', '--metrics-file', metrics, '--json'], { env: { TMPDIR: tmp } });
    expect(r.code, r.all).toBe(0);
    const checks = checksOf(r);
    expect(checks.filter((c) => c.status === 'fail')).toEqual([]);
    for (const name of ['backup-exists', 'backup-age', 'backup-size', 'checksums', 'critical-tables', 'tables', 'row-counts', 'functions', 'policies', 'test-restore', 'restored-row-counts', 'restored-policies']) {
      expect(checks.find((c) => c.name === name)?.status, name).toBe('pass');
    }
    expect(readdirSync(tmp)).toEqual([]);
    rmSync(tmp, { recursive: true });
    expect(historyCount(repoDir)).toBe(1);
    const prom = readFileSync(metrics, 'utf8');
    expect(prom).toMatch(/^drctl_verify_ok\{repo="file:\/\/.*"\} 1$/m);
    expect(prom).toMatch(/^drctl_backup_newest_age_seconds\{.*\} \d+$/m);
    expect(prom).toMatch(/^drctl_verify_check_ok\{.*check="checksums"\} 1$/m);
    const hist = await drctl(['history', '--verify', '--repo', repo, '--json']);
    expect(JSON.parse(hist.stdout)[0].ok).toBe(true);
  });

  it('a stale newest backup fails backup-age', async () => {
    const { repoDir, repo } = await scenario();
    const r = await drctl(['verify-backups', '--repo', repo, '--max-age', '1ms', '--json']);
    expect(r.code).toBe(1);
    expect(failed(r).map((c) => c.name)).toEqual(['backup-age']);
    expect(failed(r)[0]!.figure).toMatch(/^age \d+(\.\d)?m?s \(max 1ms\): stale$/);
    expect(historyCount(repoDir)).toBe(1);
  });

  it('a truncated object and a flipped byte fail checksums, naming the backup and object', async () => {
    for (const damage of ['truncate', 'flip']) {
      const { repoDir, repo } = await scenario();
      const [id] = readdirSync(path.join(repoDir, 'backups'));
      const obj = path.join(repoDir, 'backups', id!, 'data', 'dump.pgc');
      const fd = openSync(obj, 'r+');
      if (damage === 'truncate') ftruncateSync(fd, Math.floor(statSync(obj).size / 2));
      else writeSync(fd, Buffer.from([0x42]), 0, 1, Math.floor(statSync(obj).size / 3));
      closeSync(fd);
      const r = await drctl(['verify-backups', '--repo', repo, '--json']);
      expect(r.code, damage).toBe(1);
      const f = failed(r);
      expect(f.map((c) => c.name), damage).toContain('checksums');
      expect(f.find((c) => c.name === 'checksums')!.figure).toContain(`backup ${id}: object data/dump.pgc:`);
      expect(historyCount(repoDir)).toBe(1);
    }
  });

  const drift: [string, string, string, RegExp][] = [
    ['a table dropped between two backups', 'drop table billing.invoices cascade', 'tables', /dropped since .*: billing\.invoices/],
    ['a table that lost 30% of its rows', 'alter table leads disable row level security; delete from leads where id % 10 < 3', 'row-counts', /leads 3000 → 2100/],
    ['a missing RLS policy', 'drop policy no_delete on leads', 'policies', /missing since .*: public\.leads:no_delete/],
    ['a missing function', 'drop view tenant_summary; drop function lead_count(int)', 'functions', /missing since .*: public\.lead_count\(t integer\)/],
  ];
  for (const [title, sql, check, figure] of drift) {
    it(`${title} fails ${check}`, async () => {
      const { db, repoDir, repo } = await scenario();
      await pg.sql(sql, db);
      expect((await drctl(['backup', '--source', pg.url(db), '--repo', repo])).code).toBe(0);
      const r = await drctl(['verify-backups', '--repo', repo, '--json', '--size-band', '0']);
      expect(r.code).toBe(1);
      const f = failed(r);
      expect(f.map((c) => c.name)).toContain(check);
      expect(f.find((c) => c.name === check)!.figure).toMatch(figure);
      expect(historyCount(repoDir)).toBe(1);
    });
  }

  it('with two databases in one repository, the newest backup of each is re-read and test-restored, not only the newest overall', async () => {
    // Nightly dumps of one database, hourly ones of the other: the newest backup overall is
    // always the hourly one.
    const { db: hourly, repoDir, repo } = await scenario();
    const nightly = `s${++n}`;
    await pg.sql(`create database ${nightly} template app`);
    await pg.sql('delete from leads where id % 2 = 0', nightly);
    const b = await drctl(['backup', '--source', pg.url(nightly), '--repo', repo]);
    expect(b.code, b.all).toBe(0);
    const nightlyId = b.stdout.trim();
    expect((await drctl(['backup', '--source', pg.url(hourly), '--repo', repo])).code).toBe(0);

    const tmp = scratchRoot();
    const healthy = await drctl(['verify-backups', '--repo', repo, '--test-restore', '--json'], { env: { TMPDIR: tmp } });
    expect(healthy.code, healthy.all).toBe(0);
    const restored = checksOf(healthy).filter((c) => c.name === 'test-restore');
    expect(restored.map((c) => c.figure)).toEqual([expect.stringMatching(new RegExp(`^${hourly} on \\S+: restored `)), expect.stringMatching(new RegExp(`^${nightly} on \\S+: restored ${nightlyId} `))]);
    // Each database compared with its own earlier backup: the nightly one has half the leads.
    expect(checksOf(healthy).filter((c) => c.name === 'restored-row-counts').every((c) => c.status === 'pass')).toBe(true);
    expect(readdirSync(tmp)).toEqual([]);
    rmSync(tmp, { recursive: true });

    // A flipped byte in the nightly dump, which the newest backup overall does not hold.
    const obj = path.join(repoDir, 'backups', nightlyId, 'data', 'dump.pgc');
    const fd = openSync(obj, 'r+');
    writeSync(fd, Buffer.from([0x42]), 0, 1, Math.floor(statSync(obj).size / 3));
    closeSync(fd);
    const r = await drctl(['verify-backups', '--repo', repo, '--json']);
    expect(r.code, r.all).toBe(1);
    expect(failed(r).map((c) => [c.name, c.backup])).toEqual([['checksums', nightlyId]]);
    expect(failed(r)[0]!.figure).toMatch(new RegExp(`^${nightly} on \\S+: backup ${nightlyId}: object data/dump.pgc:`));
    expect(checksOf(r).filter((c) => c.name === 'checksums' && c.status === 'pass')).toHaveLength(1);
  });

  it('a failing test restore also leaves no scratch cluster behind', async () => {
    const { repoDir, repo } = await scenario();
    const [id] = readdirSync(path.join(repoDir, 'backups'));
    const obj = path.join(repoDir, 'backups', id!, 'data', 'dump.pgc');
    const fd = openSync(obj, 'r+');
    writeSync(fd, Buffer.from([0x00]), 0, 1, statSync(obj).size - 10);
    closeSync(fd);
    const tmp = scratchRoot();
    const r = await drctl(['verify-backups', '--repo', repo, '--test-restore', '--json'], { env: { TMPDIR: tmp } });
    expect(r.code).toBe(1);
    expect(failed(r).map((c) => c.name)).toEqual(expect.arrayContaining(['checksums', 'test-restore']));
    expect(readdirSync(tmp)).toEqual([]);
    rmSync(tmp, { recursive: true });
  });

  it('a verification stopped while it hangs (systemd or Kubernetes sends SIGTERM) still pages', async () => {
    // A store that accepts connections and never answers: the verification waits on it.
    const silent = net.createServer((socket) => socket.on('data', () => {}));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const hook = await startWebhook();
    try {
      const env = {
        AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`,
        AWS_ACCESS_KEY_ID: 'k',
        AWS_SECRET_ACCESS_KEY: 's',
        AWS_REGION: 'us-east-1',
        DRCTL_NOTIFY_WEBHOOK: hook.url,
      };
      const r = await drctl(['verify-backups', '--repo', 's3://drctl-verify/hangs'], {
        env,
        onSpawn: (child) => void setTimeout(() => child.kill('SIGTERM'), 2000),
      });
      expect(r.code).toBe(130);
      expect(hook.received).toHaveLength(1);
      expect(String(hook.received[0]!.text)).toMatch(/^drctl verify-backups FAILED \(canceled\)/);
    } finally {
      silent.close();
      await hook.stop();
    }
  });

  it('pages through the real Twilio client and a webhook when a check fails, without leaking the token', async () => {
    const twilio: FakeTwilio = await startFakeTwilio();
    const hook = await startWebhook();
    try {
      const { repo } = await scenario();
      const env = {
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
        TWILIO_API_BASE_URL: twilio.baseUrl,
        TWILIO_FROM_NUMBER: '+15005550006',
        ONCALL_PHONE: '+447700900123',
        DRCTL_NOTIFY_WEBHOOK: hook.url,
      };
      const r = await drctl(['verify-backups', '--repo', repo, '--max-age', '1ms'], { env });
      expect(r.code).toBe(1);
      expect(twilio.messages).toHaveLength(1);
      expect(twilio.messages[0]).toMatchObject({ to: '+447700900123', from: '+15005550006' });
      expect(twilio.messages[0]!.body).toMatch(/^drctl verify-backups FAILED \(failed\): 1 check\(s\) failed: backup-age \(\d{8}T\d{6}Z-logical\): age/);
      expect(hook.received).toHaveLength(1);
      expect(String(hook.received[0]!.text)).toContain('backup-age');
      expect(r.all).not.toContain(twilio.authToken);

      // A healthy run sends nothing.
      const ok = await drctl(['verify-backups', '--repo', repo], { env });
      expect(ok.code).toBe(0);
      expect(twilio.messages).toHaveLength(1);
    } finally {
      await twilio.stop();
      await hook.stop();
    }
  });
});

describe('verify-backups: WAL continuity', () => {
  it('a segment missing from the archive fails wal-continuity; the complete archive passes', async () => {
    const { pg, repoDir, repo } = await startArchivingPostgres();
    try {
      await pg.sql('create database app');
      await pg.sql('create table t (x int); insert into t values (1)', 'app');
      expect((await drctl(['backup', '--type', 'base', '--source', pg.url('app'), '--repo', repo])).code).toBe(0);
      for (let i = 0; i < 3; i++) {
        await pg.sql(`insert into t values (${i})`, 'app');
        await switchAndWaitArchived(pg, repoDir);
      }
      const ok = await drctl(['verify-backups', '--repo', repo, '--json', '--test-restore']);
      expect(ok.code, ok.all).toBe(0);
      expect(checksOf(ok).find((c) => c.name === 'wal-continuity')!.status).toBe('pass');
      expect(checksOf(ok).find((c) => c.name === 'test-restore')!.status).toBe('pass');
      const copy = ownedByPostgres(tempDir('drctl-verify-gap-'));
      cpSync(repoDir, copy, { recursive: true });
      const segs = archived(copy).filter((s) => /^[0-9A-F]{24}$/.test(s));
      const victim = segs[segs.length - 2]!;
      const file = readdirSync(path.join(copy, 'wal', '00000001')).find((f) => f.startsWith(`${victim}-`))!;
      rmSync(path.join(copy, 'wal', '00000001', file));
      const r = await drctl(['verify-backups', '--repo', `file://${copy}`, '--json']);
      expect(r.code).toBe(1);
      const f = failed(r);
      expect(f.map((c) => c.name)).toEqual(['wal-continuity']);
      expect(f[0]!.figure).toContain(`gap in the WAL archive: ${victim} is missing`);
    } finally {
      await destroyPostgres(pg);
    }
  });
});
