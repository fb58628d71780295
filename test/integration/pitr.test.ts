import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncfsWorks } from '../../src/adapters/postgres/recovery-watch.js';
import { builtInBackupKinds } from '../../src/adapters/registry.js';
import { Repository } from '../../src/repository/repository.js';
import { baseBackupAsOneTar, copyWithCorruptPart, storeSingleGzipBackup } from '../support/base-backup.js';
import { drctl, tempDir } from '../support/cli.js';
import { pathWithout } from '../support/path-without.js';
import { archived, copyRepository, ownedByPostgres, startArchivingPostgres, switchAndWaitArchived } from '../support/archiving.js';
import { asPostgres, destroyPostgres, freePort, type PgServer } from '../support/postgres.js';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A server restored by drctl into `dir`, reached with the source's credentials on `port`. */
async function query(pg: PgServer, port: number, sql: string): Promise<string> {
  const url = pg.url('app').replace(`:${pg.port}/`, `:${port}/`);
  const { stdout } = await run('/usr/lib/postgresql/15/bin/psql', ['-X', '-q', '-A', '-t', '-d', url, '-c', sql]);
  return stdout.trim();
}

async function stopRestored(dir: string): Promise<void> {
  if (!existsSync(path.join(dir, 'postmaster.pid'))) return;
  const [cmd, args] = asPostgres('pg_ctl', ['-D', dir, '-m', 'fast', '-w', 'stop']);
  await run(cmd, args).catch(() => {});
}

describe('point-in-time recovery', () => {
  let pg: PgServer;
  let repoDir: string;
  let repo: string;
  let b1: string;
  let b2: string;
  let targetBetween1and2: string;
  let targetBetween2and3: string;
  const restored: string[] = [];

  // The targets are read from the server's clock to the millisecond (truncated), its commit
  // times are in microseconds: a commit just before a target must fall in an earlier
  // millisecond than the target, so at least 1 ms passes between them; a commit after a target
  // begins after the statement that read it returned. 20 ms leaves a wide margin over 1 ms.
  const PAST_A_MILLISECOND = 20;

  beforeAll(async () => {
    ({ pg, repoDir, repo } = await startArchivingPostgres());
    await pg.sql('create database app');
    await pg.sql('create table events (id int primary key, label text, at timestamptz default clock_timestamp())', 'app');
    const base1 = await drctl(['backup', '--type', 'base', '--source', pg.url('app'), '--repo', repo]);
    expect(base1.code, base1.all).toBe(0);
    b1 = base1.stdout.trim();
    await pg.sql("insert into events (id, label) values (1, 't1')", 'app');
    await sleep(PAST_A_MILLISECOND);
    targetBetween1and2 = await pg.sql("select to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", 'app');
    await sleep(PAST_A_MILLISECOND);
    await pg.sql("insert into events (id, label) values (2, 't2')", 'app');
    const base2 = await drctl(['backup', '--type', 'base', '--source', pg.url('app'), '--repo', repo]);
    expect(base2.code, base2.all).toBe(0);
    b2 = base2.stdout.trim();
    await sleep(PAST_A_MILLISECOND);
    targetBetween2and3 = await pg.sql("select to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", 'app');
    await sleep(PAST_A_MILLISECOND);
    await pg.sql("insert into events (id, label) values (3, 't3')", 'app');
    await switchAndWaitArchived(pg, repoDir);
  }, 180_000);

  afterAll(async () => {
    for (const d of restored) await stopRestored(d);
    await destroyPostgres(pg);
  });

  async function restore(args: string[]): Promise<{ code: number | null; all: string; stdout: string; dir: string; port: number }> {
    const dir = path.join(ownedByPostgres(tempDir('drctl-pitr-target-')), 'data');
    const port = await freePort();
    restored.push(dir);
    // --port is for a server drctl starts: only with --start.
    const r = await drctl(['restore', '--repo', repo, '--target-dir', dir, ...(args.includes('--start') ? ['--port', String(port)] : []), ...args]);
    return { ...r, dir, port };
  }

  it('records the WAL range of each base backup', async () => {
    const m = JSON.parse((await drctl(['backups', 'show', b1, '--repo', repo])).stdout);
    expect(m.kind).toBe('base');
    expect(m.pg.timeline).toBe(1);
    expect(m.pg.walStart).toMatch(/^00000001[0-9A-F]{16}$/);
    expect(m.pg.walStop >= m.pg.walStart).toBe(true);
    expect(archived(repoDir)).toContain(m.pg.walStop);
  });

  it('recovers to a time between t2 and t3: exactly the rows up to t2', async () => {
    const r = await restore(['--pitr', targetBetween2and3, '--start', '--no-archive']);
    expect(r.code, r.all).toBe(0);
    expect(r.all).toContain(`recovery target: ${new Date(targetBetween2and3).toISOString()} (UTC)`);
    expect(r.stdout).toMatch(/promoted on timeline 2; data as of /);
    expect(await query(pg, r.port, 'select string_agg(label, \',\' order by id) from events')).toBe('t1,t2');
    expect(await query(pg, r.port, 'select pg_is_in_recovery()')).toBe('f');
    // The freshly extracted directory was synced with one syncfs, for this start only: nothing
    // of it is left in the restored configuration.
    expect(await query(pg, r.port, 'show recovery_init_sync_method')).toBe(syncfsWorks() ? 'syncfs' : 'fsync');
    expect(readFileSync(path.join(r.dir, 'postgresql.auto.conf'), 'utf8')).not.toContain('recovery_init_sync_method');
    await stopRestored(r.dir);
  });

  it('a target between t1 and t2 uses the first base backup, not the newer one', async () => {
    const out = path.join(tempDir(), 'r.json');
    const r = await restore(['--pitr', targetBetween1and2, '--start', '--no-archive', '--report', out]);
    expect(r.code, r.all).toBe(0);
    const { readFileSync } = await import('node:fs');
    const step = JSON.parse(readFileSync(out, 'utf8')).steps[0];
    expect(step.outputs.backupId).toBe(b1);
    expect(step.outputs.backupId).not.toBe(b2);
    expect(await query(pg, r.port, 'select string_agg(label, \',\' order by id) from events')).toBe('t1');
    await stopRestored(r.dir);
  });

  it('latest replays to the end of the archive: all rows', async () => {
    const r = await restore(['--pitr', 'latest', '--start', '--no-archive']);
    expect(r.code, r.all).toBe(0);
    expect(await query(pg, r.port, 'select string_agg(label, \',\' order by id) from events')).toBe('t1,t2,t3');
    await stopRestored(r.dir);
  });

  it('fails closed before touching the target: a target before the earliest backup, a target beyond the archive', async () => {
    const early = await restore(['--pitr', '2020-01-01T00:00:00Z']);
    expect(early.code).toBe(1);
    expect(early.all).toContain(`no base backup ended before 2020-01-01T00:00:00.000Z: the earliest, ${b1}, ended at`);
    expect(existsSync(early.dir)).toBe(false);
    const late = await restore(['--pitr', new Date(Date.now() + 3600_000).toISOString()]);
    expect(late.code).toBe(1);
    expect(late.all).toMatch(/archived WAL does not reach .*: it ends with 00000001[0-9A-F]{16}, archived /);
    expect(existsSync(late.dir)).toBe(false);
  });

  it('detects a segment missing from the middle of the archive before replay starts', async () => {
    const copy = copyRepository(repoDir, tempDir('drctl-pitr-gap-'));
    const m = JSON.parse((await drctl(['backups', 'show', b1, '--repo', repo])).stdout);
    const dir = path.join(copy, 'wal', '00000001');
    const segments = readdirSync(dir).filter((f) => /^[0-9A-F]{24}-/.test(f)).sort();
    const middle = segments.find((f) => f.slice(0, 24) > m.pg.walStop && f !== segments[segments.length - 1]);
    expect(middle, 'the archive needs a segment between the backup and the end').toBeDefined();
    rmSync(path.join(dir, middle!));
    const target = path.join(tempDir(), 'data');
    const r = await drctl(['restore', '--repo', `file://${copy}`, '--target-dir', target, '--pitr', 'latest', '--backup', b1]);
    expect(r.code).toBe(1);
    expect(r.all).toContain(`gap in the WAL archive: ${middle!.slice(0, 24)} is missing`);
    expect(existsSync(target)).toBe(false);
  });

  it('expire keeps the WAL that kept base backups need and removes older WAL only with --confirm', async () => {
    const copyDir = copyRepository(repoDir, tempDir('drctl-pitr-expire-'));
    const copy = `file://${copyDir}`;
    const m2 = JSON.parse((await drctl(['backups', 'show', b2, '--repo', copy])).stdout);
    const walBefore = archived(copyDir);
    const older = walBefore.filter((w) => /^[0-9A-F]{24}/.test(w) && w.slice(0, 24) < m2.pg.walStart);
    expect(older.length).toBeGreaterThan(0);
    const dry = await drctl(['backups', 'expire', '--keep-last', '1', '--repo', copy]);
    expect(dry.stdout).toContain(`would remove ${b1}`);
    expect(dry.stdout).toContain(`would remove ${older.length} archived WAL file(s) older than ${m2.pg.walStart}`);
    expect(archived(copyDir)).toEqual(walBefore);
    expect((await drctl(['backups', 'expire', '--keep-last', '1', '--repo', copy, '--confirm'])).code).toBe(0);
    const after = archived(copyDir);
    expect(after.filter((w) => older.includes(w))).toEqual([]);
    expect(after).toContain(m2.pg.walStart);
    // What is left still recovers.
    const target = path.join(ownedByPostgres(tempDir('drctl-pitr-after-expire-')), 'data');
    const port = await freePort();
    restored.push(target);
    const r = await drctl(['restore', '--repo', copy, '--target-dir', target, '--pitr', 'latest', '--start', '--no-archive', '--port', String(port)]);
    expect(r.code, r.all).toBe(0);
    expect(await query(pg, port, "select string_agg(label, ',' order by id) from events")).toBe('t1,t2,t3');
    await stopRestored(target);
  });

  it('expire --backup removes a base backup by name: the other keeps the WAL it needs and still recovers to the end; the last one is noted', async () => {
    const copyDir = copyRepository(repoDir, tempDir('drctl-pitr-expire-named-'));
    const copy = `file://${copyDir}`;
    const m1 = JSON.parse((await drctl(['backups', 'show', b1, '--repo', copy])).stdout);
    const walBefore = archived(copyDir);

    // The newer one (say, taken during an incident) goes: b1 needs all the WAL from its start on.
    const gone = await drctl(['backups', 'expire', '--backup', b2, '--repo', copy, '--confirm']);
    expect(gone.code, gone.all).toBe(0);
    expect(gone.stdout).toContain(`removing ${b2} (named with --backup)`);
    expect(gone.stdout).not.toContain('note:');
    const after = archived(copyDir);
    expect(after).toEqual(walBefore.filter((w) => w.slice(0, 24) >= m1.pg.walStart));
    const target = path.join(ownedByPostgres(tempDir('drctl-pitr-after-named-')), 'data');
    const port = await freePort();
    restored.push(target);
    const r = await drctl(['restore', '--repo', copy, '--target-dir', target, '--pitr', 'latest', '--start', '--no-archive', '--port', String(port)]);
    expect(r.code, r.all).toBe(0);
    expect(r.all).toContain(b1);
    expect(await query(pg, port, "select string_agg(label, ',' order by id) from events")).toBe('t1,t2,t3');
    await stopRestored(target);

    // The last base backup: the plan says point-in-time restore ends with it; its WAL stays, as
    // expire removes WAL only below a base backup it keeps.
    const dry = await drctl(['backups', 'expire', '--backup', b1, '--repo', copy]);
    expect(dry.code, dry.all).toBe(0);
    expect(dry.stdout).toContain(`would remove ${b1} (named with --backup)`);
    expect(dry.stdout).toMatch(new RegExp(`note: ${b1} is the last base backup of cluster \\S+: point-in-time restore of it will no longer be possible`));
    expect(dry.stdout).toContain('note: no base backup is left: expire removes no archived WAL until a base backup is kept again');
    expect((await drctl(['backups', 'expire', '--backup', b1, '--repo', copy, '--confirm'])).code).toBe(0);
    expect(JSON.parse((await drctl(['backups', 'list', '--json', '--repo', copy])).stdout)).toEqual([]);
    expect(archived(copyDir)).toEqual(after);
  });

  it.skipIf(process.getuid?.() !== 0)('a repository the server’s user cannot read: the recovery stops, and says why, instead of promoting short', async () => {
    // A copy made as root and left root's (0600 files): restore_command runs as postgres.
    const copyDir = ownedByPostgres(tempDir('drctl-pitr-unreadable-'));
    cpSync(repoDir, path.join(copyDir, 'repo'), { recursive: true });
    const target = path.join(ownedByPostgres(tempDir('drctl-pitr-unreadable-target-')), 'data');
    restored.push(target);
    const r = await drctl(['restore', '--repo', `file://${copyDir}/repo`, '--target-dir', target, '--pitr', 'latest', '--start', '--no-archive', '--port', String(await freePort())]);
    expect(r.code, r.all).toBe(1);
    expect(r.all).toMatch(/could not restore file \\?"[0-9A-F]+\.history\\?" from archive: child process exited with exit code 255 \(drctl: permission denied: [^)]* as user postgres/);
  });

  it('refuses a non-empty target directory without --yes', async () => {
    const dir = tempDir('drctl-pitr-busy-');
    writeFileSync(path.join(dir, 'precious'), 'x');
    const r = await drctl(['restore', '--repo', repo, '--target-dir', dir, '--pitr', 'latest']);
    expect(r.code).toBe(4);
    expect(readdirSync(dir)).toEqual(['precious']);
  });

  it('stores a base backup as zstd tar parts, each with its own sha256 in the manifest', async () => {
    const m = JSON.parse((await drctl(['backups', 'show', b2, '--repo', repo])).stdout);
    expect(m.extra).toMatchObject({ format: 'tar', compression: 'zstd' });
    expect(m.extra.parts).toBeGreaterThanOrEqual(2);
    expect(m.objects.map((o: { path: string }) => o.path)).toEqual(Array.from({ length: m.extra.parts }, (_, i) => `data/base.${i}.tar.zst`));
    for (const o of m.objects) expect(o.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Split at member boundaries by size: every part holds part of the data directory.
    for (const o of m.objects) expect(o.size).toBeGreaterThan(100_000);
  });

  it('a base backup of the earlier layout (one gzip tar object) still restores to a time', async () => {
    const r = await Repository.open(repo, { env: process.env, config: {} }, { kinds: builtInBackupKinds() });
    const tarFile = path.join(tempDir('drctl-pitr-legacy-'), 'base.tar');
    await baseBackupAsOneTar(r, await r.resolve(b2, ['base']), tarFile);
    const legacy = await storeSingleGzipBackup(r, await r.resolve(b2, ['base']), tarFile);
    rmSync(tarFile);
    try {
      const m = JSON.parse((await drctl(['backups', 'show', legacy, '--repo', repo])).stdout);
      expect(m.objects.map((o: { path: string }) => o.path)).toEqual(['data/base.tar.gz']);
      const res = await restore(['--backup', legacy, '--pitr', targetBetween2and3, '--start', '--no-archive']);
      expect(res.code, res.all).toBe(0);
      expect(await query(pg, res.port, "select string_agg(label, ',' order by id) from events")).toBe('t1,t2');
      await stopRestored(res.dir);
    } finally {
      await r.removeBackup(legacy);
    }
  });

  for (const part of [0, 1]) {
    it(`a base backup whose part ${part} is corrupt fails the restore closed: nothing is left in the target`, async () => {
      const r = await Repository.open(repo, { env: process.env, config: {} }, { kinds: builtInBackupKinds() });
      const bad = await copyWithCorruptPart(r, await r.resolve(b2, ['base']), repoDir, part);
      try {
        const res = await restore(['--backup', bad, '--pitr', targetBetween2and3, '--start', '--no-archive']);
        expect(res.code).toBe(1);
        expect(res.all).toMatch(new RegExp(`backup ${bad}: object data/base\\.${part}\\.tar\\.zst: sha256 mismatch`));
        expect(existsSync(res.dir)).toBe(false);
      } finally {
        await r.removeBackup(bad);
      }
    });
  }

  it('extracts with bsdtar when it is installed and reads zstd, and with GNU tar and the zstd binary when not: the same data', async () => {
    expect(existsSync('/usr/bin/bsdtar'), 'scripts/test.sh installs libarchive-tools').toBe(true);
    const withoutBsdtar = pathWithout(/^bsdtar$/);
    // A libarchive built without zstd (as before 3.3.3) cannot read the parts: not used.
    const withOldBsdtar = pathWithout(/^bsdtar$/);
    const fake = path.join(withOldBsdtar.split(':')[0]!, 'bsdtar');
    writeFileSync(fake, '#!/bin/sh\n[ "$1" = --version ] && echo "bsdtar 3.2.2 - libarchive 3.2.2 zlib/1.2.11" && exit 0\necho "bsdtar: Unrecognized archive format" >&2; exit 1\n');
    chmodSync(fake, 0o755);
    const cases = [[{}, 'bsdtar'], [{ PATH: withoutBsdtar }, 'GNU tar and zstd'], [{ PATH: withOldBsdtar }, 'GNU tar and zstd']] as const;
    for (const [env, tool] of cases) {
      const dir = path.join(ownedByPostgres(tempDir('drctl-pitr-target-')), 'data');
      const port = await freePort();
      restored.push(dir);
      const res = await drctl(['restore', '--repo', repo, '--backup', b2, '--target-dir', dir, '--pitr', targetBetween2and3, '--start', '--no-archive', '--port', String(port)], { env });
      expect(res.code, res.all).toBe(0);
      expect(res.all).toMatch(new RegExp(`extracting \\d+ part\\(s\\) with ${tool}\\b`));
      expect(await query(pg, port, "select string_agg(label, ',' order by id) from events")).toBe('t1,t2');
      // Nothing of the tar's setuid bits or group/other permissions survives, with either tar.
      const loose = execFileSync('find', [dir, '-perm', '/6077', '-not', '-type', 'l'], { encoding: 'utf8' }).trim();
      expect(loose).toBe('');
      await stopRestored(dir);
    }
  });

  it('without a zstd binary on PATH, a base backup is compressed and extracted in-process, in the same format', async () => {
    // A PATH with everything /usr/bin has but zstd and bsdtar (which decompresses by itself).
    const env = { PATH: pathWithout(/zstd|^bsdtar$/) };
    const b = await drctl(['backup', '--type', 'base', '--source', pg.url('app'), '--repo', repo], { env });
    expect(b.code, b.all).toBe(0);
    const id = b.stdout.trim();
    expect(b.all).toContain('no zstd binary on PATH');
    const r = await Repository.open(repo, { env: process.env, config: {} }, { kinds: builtInBackupKinds() });
    try {
      const m = JSON.parse((await drctl(['backups', 'show', id, '--repo', repo])).stdout);
      expect(m.objects[0].path).toBe('data/base.0.tar.zst');
      const dir = path.join(ownedByPostgres(tempDir('drctl-pitr-target-')), 'data');
      const port = await freePort();
      restored.push(dir);
      const res = await drctl(['restore', '--repo', repo, '--backup', id, '--target-dir', dir, '--pitr', 'latest', '--timeline', '1', '--start', '--no-archive', '--port', String(port)], { env });
      expect(res.code, res.all).toBe(0);
      expect(await query(pg, port, "select string_agg(label, ',' order by id) from events")).toBe('t1,t2,t3');
      await stopRestored(dir);
    } finally {
      await r.removeBackup(id);
    }
  });

  it('a pg_basebackup that fails is reported as its own error, and none of the parts stays behind', async () => {
    await pg.sql("create role no_replication login password 'np'; grant pg_read_all_settings, pg_read_all_data to no_replication");
    const url = pg.url('app').replace(/\/\/[^@]*@/, '//no_replication:np@');
    const r = await Repository.open(repo, { env: process.env, config: {} }, { kinds: builtInBackupKinds() });
    const before = (await r.catalog()).backups.length;
    const b = await drctl(['backup', '--type', 'base', '--source', url, '--repo', repo]);
    expect(b.code, b.all).toBe(1);
    expect(b.all).toMatch(/pg_basebackup .*replication/);
    const after = await r.catalog();
    expect(after.backups.length).toBe(before);
    expect(after.orphans).toEqual([]);
  });

  it('a base backup stopped while it waits for its WAL (Ctrl-C) leaves none of its parts behind', async () => {
    // The server archives into `repo`, never into this one: the wait goes on until the interrupt.
    const other = `file://${tempDir('drctl-pitr-noarchive-')}`;
    const b = await drctl(['backup', '--type', 'base', '--source', pg.url('app'), '--repo', other], {
      onSpawn: (child) => {
        let seen = '';
        const onData = (d: Buffer) => {
          seen += d.toString();
          if (!/waiting for \S+ in the archive/.test(seen)) return;
          child.stderr?.off('data', onData);
          child.kill('SIGINT');
        };
        child.stderr?.on('data', onData);
      },
    });
    expect(b.code, b.all).toBe(130);
    const r = await Repository.open(other, { env: process.env, config: {} }, { kinds: builtInBackupKinds() });
    const cat = await r.catalog();
    expect(cat.backups).toEqual([]);
    expect(cat.orphans).toEqual([]);
  });

  it('after a promoted restore archives on timeline 2, a second PITR follows timeline 2; timeline 1 is untouched', async () => {
    const before = archived(repoDir, 1);
    const r = await restore(['--pitr', targetBetween2and3, '--start']);
    expect(r.code, r.all).toBe(0);
    await query(pg, r.port, "insert into events (id, label) values (20, 'on timeline 2')");
    const port = r.port;
    const restoredPg = { ...pg, port, url: (db = 'postgres') => pg.url(db).replace(`:${pg.port}/`, `:${port}/`), sql: (q: string, db = 'postgres') => query({ ...pg, url: () => pg.url(db) } as PgServer, port, q) } as PgServer;
    await switchAndWaitArchived(restoredPg, repoDir, 2);
    await stopRestored(r.dir);
    expect(archived(repoDir, 1).slice(0, before.length)).toEqual(before);
    expect(archived(repoDir, 2)).toContain('00000002.history');

    const again = await restore(['--pitr', 'latest', '--timeline', '2', '--start', '--no-archive']);
    expect(again.code, again.all).toBe(0);
    expect(await query(pg, again.port, 'select string_agg(label, \',\' order by id) from events')).toBe('t1,t2,on timeline 2');
    await stopRestored(again.dir);

    const old = await restore(['--pitr', 'latest', '--timeline', '1', '--start', '--no-archive']);
    expect(old.code, old.all).toBe(0);
    expect(await query(pg, old.port, 'select string_agg(label, \',\' order by id) from events')).toBe('t1,t2,t3');
    await stopRestored(old.dir);
  });
});

describe('wal-push', () => {
  it('archives a segment once, accepts the same content again, refuses different content', async () => {
    const dir = tempDir();
    const repo = `file://${tempDir('drctl-wal-')}`;
    const seg = path.join(dir, '000000010000000000000007');
    writeFileSync(seg, Buffer.alloc(1024 * 1024, 7));
    expect((await drctl(['wal-push', seg, '--repo', repo])).code).toBe(0);
    expect((await drctl(['wal-push', seg, '--repo', repo])).code).toBe(0);
    writeFileSync(seg, Buffer.alloc(1024 * 1024, 8));
    const bad = await drctl(['wal-push', seg, '--repo', repo]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^drctl: wal-push: 000000010000000000000007 is already archived in .* with different content/);
    const back = path.join(dir, 'back');
    expect((await drctl(['wal-fetch', '000000010000000000000007', back, '--repo', repo])).code).toBe(0);
    expect(readdirSync(dir)).toContain('back');
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(back)[0]).toBe(7);
    const missing = await drctl(['wal-fetch', '000000010000000000000009', back, '--repo', repo]);
    expect(missing.code).toBe(1);
    expect(missing.all).toBe('');
    const notWal = await drctl(['wal-push', path.join(dir, 'back'), '--repo', repo]);
    expect(notWal.code).toBe(2);
  });
});
