import { execFile } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/adapters/postgres/client.js';
import { stopCluster } from '../../src/adapters/postgres/cluster.js';
import { physicalRestore } from '../../src/adapters/postgres/restore-physical.js';
import type { ActionContext } from '../../src/adapters/types.js';
import { builtInBackupKinds } from '../../src/adapters/registry.js';
import { Repository } from '../../src/repository/repository.js';
import { startScratchCluster } from '../../src/adapters/postgres/scratch-cluster.js';
import { archived, startArchivingPostgres, switchAndWaitArchived } from '../support/archiving.js';
import { baseBackupAsOneTar, storeSingleGzipBackup } from '../support/base-backup.js';
import { drctl, type CliOptions } from '../support/cli.js';
import { pathWithout } from '../support/path-without.js';
import { asPostgres, destroyPostgres, freePort, PG_BIN, postgresIds, type PgServer } from '../support/postgres.js';

// Restores must not harm the host or production: drills and test restores never archive into
// the repository they restored from, throwaway servers are reachable by nobody else, and a
// restore as root never chowns through a symlink nor leaves credentials inside PGDATA.

const run = promisify(execFile);
const CANARY = 'aws-secret-canary-5d0c2e';
const IS_ROOT = process.getuid?.() === 0;

/** Every file under dir (symlinks not followed). */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...walk(p));
  }
  return out;
}

describe('restores that cannot harm production or the host', () => {
  let root: string;
  let pg: PgServer;
  let repoDir: string;
  let repo: string;
  let cli: CliOptions;
  let victim: string;
  let planted: string;
  const started: string[] = [];

  /** A data directory path whose parent belongs to the server's user. */
  function target(name: string): string {
    const parent = path.join(root, name);
    mkdirSync(parent, { mode: 0o700 });
    const ids = postgresIds();
    if (ids) chownSync(parent, ids.uid, ids.gid);
    return path.join(parent, 'data');
  }
  async function sqlAt(port: number, q: string): Promise<string> {
    const url = pg.url('app').replace(`:${pg.port}/`, `:${port}/`);
    const { stdout } = await run(path.join(PG_BIN, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', q]);
    return stdout.trim();
  }
  async function stop(dir: string): Promise<void> {
    if (!existsSync(path.join(dir, 'postmaster.pid'))) return;
    const [cmd, args] = asPostgres('pg_ctl', ['-D', dir, '-m', 'fast', '-w', 'stop']);
    await run(cmd, args).catch(() => {});
  }

  /**
   * A copy of a base backup whose tar also holds, as a hostile or careless source could, a
   * root-owned symlink to a file outside the data directory and a setuid file.
   */
  async function plantInBackup(id: string, linkTo: string, device = false): Promise<string> {
    const r = await Repository.open(repo, { env: process.env, config: {} }, { kinds: builtInBackupKinds() });
    const m = await r.resolve(id, ['base']);
    const tarFile = path.join(root, 'planted.tar');
    await baseBackupAsOneTar(r, m, tarFile);
    const stage = mkdtempSync(path.join(root, 'stage-'));
    symlinkSync(linkTo, path.join(stage, 'evil_link'));
    writeFileSync(path.join(stage, 'suid_file'), '#!/bin/sh\n');
    chmodSync(path.join(stage, 'suid_file'), 0o6755);
    // A character device (/dev/null's numbers): tar run as root creates it as it is.
    if (device) await run('mknod', [path.join(stage, 'raw_disk'), 'c', '1', '3']);
    await run('tar', ['--append', '-f', tarFile, '-C', stage, 'evil_link', 'suid_file', ...(device ? ['raw_disk'] : [])]);
    const newId = await storeSingleGzipBackup(r, m, tarFile);
    rmSync(tarFile);
    rmSync(stage, { recursive: true });
    return newId;
  }

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'drctl-restore-safety-'));
    chmodSync(root, 0o711);
    cli = { cwd: root, env: { TMPDIR: root, DRCTL_STATE_DIR: path.join(root, 'state'), AWS_SECRET_ACCESS_KEY: CANARY } };
    ({ pg, repoDir, repo } = await startArchivingPostgres());
    await pg.sql('create database app');
    await pg.sql("create table events (id int primary key, label text); insert into events values (1, 'before')", 'app');
    const b = await drctl(['backup', '--type', 'base', '--source', pg.url('app'), '--repo', repo], cli);
    expect(b.code, b.all).toBe(0);
    victim = path.join(root, 'victim');
    writeFileSync(victim, 'root:x:0:0:root:/root:/bin/sh\n', { mode: 0o644 });
    planted = await plantInBackup(b.stdout.trim(), victim);
    await pg.sql("insert into events values (2, 'after')", 'app');
    await switchAndWaitArchived(pg, repoDir);
  }, 180_000);

  afterAll(async () => {
    for (const d of started) await stop(d);
    await destroyPostgres(pg);
    if (repoDir) rmSync(repoDir, { recursive: true, force: true });
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('a scratch cluster listens on no TCP port, only on a socket in a 0700 directory, and trusts nobody', async () => {
    const before = process.env.TMPDIR;
    process.env.TMPDIR = root;
    const scratch = await startScratchCluster(process.env, new AbortController().signal).finally(() => {
      process.env.TMPDIR = before;
    });
    try {
      expect(statSync(scratch.dir).mode & 0o777).toBe(0o700);
      const hba = readFileSync(path.join(scratch.dataDir, 'pg_hba.conf'), 'utf8');
      const rules = hba.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
      expect(rules.length).toBeGreaterThan(0);
      expect(rules.filter((l) => /\btrust\b/.test(l))).toEqual([]);
      const db = await connect(scratch.conn);
      try {
        expect((await db.query<{ v: string }>(`select current_setting('listen_addresses') as v`))[0]?.v).toBe('');
      } finally {
        await db.close();
      }
      // Without the random password, not even the socket lets anyone in.
      await expect(connect({ ...scratch.conn, password: 'wrong' })).rejects.toThrow(/password authentication failed/);
    } finally {
      await scratch.stop();
    }
    expect(existsSync(scratch.dir)).toBe(false);
  });

  it('a base test restore: private 0700 socket directory, peer authentication for drctl\'s own user only, no TCP, no archiving', async () => {
    const r = await Repository.open(repo, { env: process.env, config: {} }, { kinds: builtInBackupKinds() });
    const work = mkdtempSync(path.join(root, 'verify-base-'));
    const ids = postgresIds();
    if (ids) chownSync(work, ids.uid, ids.gid);
    const dataDir = path.join(work, 'data');
    const sock = path.join(work, 'sock');
    const logs: string[] = [];
    const ctx: ActionContext = {
      signal: new AbortController().signal,
      runId: 'test',
      stepId: 'restore',
      kind: 'run',
      env: { ...process.env, TMPDIR: root },
      config: {},
      stateDir: path.join(root, 'state'),
      log: (m) => logs.push(m),
      progress: () => {},
      confirm: async () => true,
      secret: () => {},
      backupKinds: new Map(),
    };
    try {
      await physicalRestore(ctx, r, { backup: 'latest', pitr: 'latest', targetDir: dataDir, start: true, archive: false, startTimeoutMs: 120_000, privateSocketDir: sock, port: 5432, immediate: true });
      expect(statSync(sock).mode & 0o777).toBe(0o700);
      if (ids) expect(statSync(sock).uid).toBe(ids.uid);
      const hba = readFileSync(path.join(dataDir, 'pg_hba.conf'), 'utf8');
      expect(hba.split('\n').filter((l) => /\btrust\b/.test(l) && !l.startsWith('#'))).toEqual([]);
      expect(hba).toMatch(/^local all postgres peer map=drctl$/m);
      const db = await connect({ host: sock, port: 5432, user: 'postgres', database: 'app', params: {} });
      try {
        const [s] = await db.query<{ l: string; a: string }>(`select current_setting('listen_addresses') as l, current_setting('archive_mode') as a`);
        expect(s).toEqual({ l: '', a: 'off' });
      } finally {
        await db.close();
      }
      // Another role than the mapped one is refused, whatever the source's pg_hba allowed.
      await expect(connect({ host: sock, port: 5432, user: 'app_nobody', database: 'app', params: {} })).rejects.toThrow();
    } finally {
      await stopCluster(ctx, dataDir, 'immediate').catch(() => {});
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('a PITR restore run as a drill never archives its new timeline into the repository; chown never follows a symlink; no setuid bit; no credentials in PGDATA', async () => {
    const dir = target('drill');
    const port = await freePort();
    started.push(dir);
    const r = await drctl(['--log-format', 'pretty', 'drill', 'pitr-restore', '--var', `backup=${planted}`, '--var', `targetDir=${dir}`, '--var', 'pitr=latest', '--var', 'start=true', '--var', `port=${port}`, '--var', `repo=${repo}`], cli);
    expect(r.code, r.all).toBe(0);
    expect(r.all).toContain('archiving: off (a drill)');
    expect(await sqlAt(port, 'show archive_mode')).toBe('off');
    expect(await sqlAt(port, "insert into events values (3, 'drill'); select pg_walfile_name(pg_switch_wal())")).toMatch(/^00000002/);
    // A clean shutdown is when an archiving server would have archived everything pending.
    await stop(dir);
    expect(archived(repoDir, 2)).toEqual([]);
    expect(readdirSync(path.join(repoDir, 'wal'))).toEqual(['00000001']);

    if (IS_ROOT) {
      expect(lstatSync(victim).uid).toBe(0);
      expect(lstatSync(path.join(dir, 'evil_link')).isSymbolicLink()).toBe(true);
      expect(lstatSync(path.join(dir, 'evil_link')).uid).toBe(postgresIds()!.uid);
    }
    expect(statSync(path.join(dir, 'suid_file')).mode & 0o7000).toBe(0);
    expect(statSync(path.join(dir, 'PG_VERSION')).mode & 0o077).toBe(0);
    for (const f of walk(dir)) {
      expect(path.basename(f)).not.toBe('drctl.env');
      if (lstatSync(f).isFile()) expect(readFileSync(f).includes(CANARY), f).toBe(false);
    }
    // Promoted: the credentials restore_command used are gone as well.
    expect(readdirSync(path.dirname(dir))).toEqual(['data']);
  });

  it('GNU tar, where bsdtar is missing, extracts a hostile tar as safely: no setuid bit, owner-only modes, the link kept a link', async () => {
    const dir = target('gnu');
    const r = await drctl(['restore', '--repo', repo, '--backup', planted, '--target-dir', dir, '--pitr', 'latest', '--no-archive'], { ...cli, env: { ...cli.env, PATH: pathWithout(/^bsdtar$/) } });
    expect(r.code, r.all).toBe(0);
    expect(r.all).toMatch(/extracting \d+ part\(s\) with GNU tar/);
    if (IS_ROOT) {
      expect(lstatSync(victim).uid).toBe(0);
      expect(lstatSync(path.join(dir, 'evil_link')).uid).toBe(postgresIds()!.uid);
    }
    expect(lstatSync(path.join(dir, 'evil_link')).isSymbolicLink()).toBe(true);
    expect(statSync(path.join(dir, 'suid_file')).mode & 0o7077).toBe(0);
    expect(statSync(path.join(dir, 'PG_VERSION')).mode & 0o077).toBe(0);
  });

  it('a restore that is not started keeps restore_command\'s credentials outside the data directory, private, and says where', async () => {
    const dir = target('prepared');
    const r = await drctl(['restore', '--repo', repo, '--target-dir', dir, '--pitr', 'latest'], cli);
    expect(r.code, r.all).toBe(0);
    for (const f of walk(dir)) if (lstatSync(f).isFile()) expect(readFileSync(f).includes(CANARY), f).toBe(false);
    const side = readdirSync(path.dirname(dir)).filter((e) => e !== 'data');
    expect(side).toHaveLength(1);
    const envDir = path.join(path.dirname(dir), side[0]!);
    expect(r.all).toContain(`${envDir} holds the repository credentials`);
    expect(statSync(envDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(envDir, 'drctl.env')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(envDir, 'drctl.env'), 'utf8')).toContain(CANARY);
    expect(readFileSync(path.join(dir, 'postgresql.auto.conf'), 'utf8')).toContain(path.join(envDir, 'drctl.env'));
  });

  it.skipIf(process.getuid?.() !== 0)('a device node in a base backup fails the restore as root, before anything is given to the server user', async () => {
    const r0 = await Repository.open(repo, { env: process.env, config: {} }, { kinds: builtInBackupKinds() });
    const firstBase = (await r0.catalog()).backups.find((b) => b.kind === 'base' && b.id !== planted)!;
    const withDevice = await plantInBackup(firstBase.id, victim, true);
    try {
      const dir = target('device');
      const r = await drctl(['restore', '--repo', repo, '--backup', withDevice, '--target-dir', dir, '--pitr', 'latest', '--no-archive'], cli);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toMatch(/raw_disk: a character device in the restored directory; a base backup holds only files, directories and symlinks \(refused\)/);
      expect(existsSync(dir)).toBe(false);
    } finally {
      // The newest base backup otherwise: later restores to "latest" would pick it.
      await r0.removeBackup(withDevice);
    }
  });

  it.skipIf(!IS_ROOT)('a restore that fails into a directory that was already there leaves that directory, empty, with its owner and mode', async () => {
    // The repository, with one byte of its newest archived segment flipped.
    const damaged = mkdtempSync(path.join(root, 'damaged-repo-'));
    cpSync(repoDir, damaged, { recursive: true });
    const walDir = path.join(damaged, 'wal', '00000001');
    const newest = readdirSync(walDir).filter((f) => /^[0-9A-F]{24}-/.test(f)).sort().pop()!;
    const bytes = readFileSync(path.join(walDir, newest));
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(path.join(walDir, newest), bytes);
    // Made by the operator for another user than postgres, group-readable.
    const nobody = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === 'nobody')!;
    const [uid, gid] = [Number(nobody[2]), Number(nobody[3])];
    const dir = path.join(mkdtempSync(path.join(root, 'premade-')), 'data');
    mkdirSync(dir);
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o750);

    const r = await drctl(['restore', '--repo', `file://${damaged}`, '--target-dir', dir, '--pitr', 'latest', '--no-archive'], cli);
    expect(r.code, r.all).toBe(1);
    expect(r.all).toContain(newest.slice(0, 24));
    const s = statSync(dir);
    expect({ uid: s.uid, gid: s.gid, mode: s.mode & 0o7777 }).toEqual({ uid, gid, mode: 0o750 });
    expect(readdirSync(dir)).toEqual([]);
    // Nor are restore_command's credentials left beside it.
    expect(readdirSync(path.dirname(dir))).toEqual(['data']);
    rmSync(damaged, { recursive: true, force: true });
  });

  it('a real recovery (no drill) archives its new timeline as configured, and says so', async () => {
    const dir = target('real');
    const port = await freePort();
    started.push(dir);
    const r = await drctl(['restore', '--repo', repo, '--target-dir', dir, '--pitr', 'latest', '--start', '--port', String(port)], cli);
    expect(r.code, r.all).toBe(0);
    expect(r.all).toMatch(/archiving: on \(archive_mode on, archive_command runs drctl wal-push\): the new timeline is archived/);
    // The command is described, never quoted: it may carry credentials.
    expect(r.all).not.toMatch(/wal-push %p/);
    const restored = { ...pg, sql: (q: string) => sqlAt(port, q) } as PgServer;
    await switchAndWaitArchived(restored, repoDir, 2);
    expect(archived(repoDir, 2)).toContain('00000002.history');
    await stop(dir);
  });

  it('a base backup warns when an older drctl restore left its credentials file inside the data directory', async () => {
    const spool = path.join(pg.dataDir, 'drctl_wal_spool');
    mkdirSync(spool);
    writeFileSync(path.join(spool, 'drctl.env'), 'DRCTL_REPO=file:///nowhere\n');
    const ids = postgresIds();
    if (ids) for (const p of [spool, path.join(spool, 'drctl.env')]) chownSync(p, ids.uid, ids.gid);
    try {
      const b = await drctl(['backup', '--type', 'base', '--source', pg.url('app'), '--repo', repo], cli);
      expect(b.code, b.all).toBe(0);
      expect(b.all).toContain('warning: drctl_wal_spool/drctl.env in the data directory, left by an earlier drctl restore, holds repository credentials');
    } finally {
      rmSync(spool, { recursive: true, force: true });
    }
  });
});
