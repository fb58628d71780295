import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, statfsSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, drctl, tempDir, type CliResult } from '../support/cli.js';
import { archived, ownedByPostgres, startArchivingPostgres, switchAndWaitArchived } from '../support/archiving.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';

// The repository on the worst day: a full disk, a crashed or concurrent backup, a careless
// umask, and WAL that is listed but no longer readable.

const SEG = 16 * 1024 * 1024;
const created: string[] = [];
function dir(prefix: string): string {
  const d = tempDir(prefix);
  created.push(d);
  return d;
}
afterAll(() => {
  for (const d of created) rmSync(d, { recursive: true, force: true });
});

/** Every file under `root` (relative paths). */
function files(root: string): string[] {
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true }) as string[]).filter((f) => statSync(path.join(root, f)).isFile()).sort();
}

function segmentFile(where: string, name = '000000010000000000000001'): { file: string; sha256: string } {
  const file = path.join(where, name);
  const data = randomBytes(SEG);
  writeFileSync(file, data);
  return { file, sha256: createHash('sha256').update(data).digest('hex') };
}

/** Resolves once `file` exists (the paused process reached its pause point). */
async function until(cond: () => boolean, what: string, child?: { exitCode: number | null }): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!cond()) {
    if (child && child.exitCode !== null) throw new Error(`process exited before ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function lockOf(repoDir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(repoDir, 'locks', 'repo.lock'), 'utf8')) as Record<string, unknown>;
}

/** A lock as its holder left it: the file last written when the holder last refreshed it. */
function writeLock(repoDir: string, lock: { refreshedAt?: string }): void {
  mkdirSync(path.join(repoDir, 'locks'), { recursive: true });
  const file = path.join(repoDir, 'locks', 'repo.lock');
  writeFileSync(file, JSON.stringify(lock));
  if (lock.refreshedAt) utimesSync(file, new Date(lock.refreshedAt), new Date(lock.refreshedAt));
}

describe('repository on a real, small file system (tmpfs)', () => {
  let pg: PgServer;
  let mnt: string;
  let mounted = false;
  let why = '';

  beforeAll(async () => {
    mnt = dir('drctl-tmpfs-');
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt], { encoding: 'utf8' });
    mounted = r.status === 0;
    why = r.error?.message ?? r.stderr?.trim() ?? `mount exited ${r.status}`;
    if (!mounted) {
      console.warn(`SKIPPED disk-full tests: cannot mount a tmpfs here (${why}); they need root or CAP_SYS_ADMIN`);
      return;
    }
    pg = await startPostgres();
    await pg.sql('create database big');
    await pg.sql('create extension pgcrypto', 'big');
    // Random bytes do not compress: the dump is as large as the data.
    await pg.sql("create table blobs (id int, b bytea); insert into blobs select g, gen_random_bytes(1024) from generate_series(1, 8000) g", 'big');
  });
  afterAll(async () => {
    if (pg) await destroyPostgres(pg);
    if (mounted) spawnSync('umount', [mnt]);
  });

  /** Fills the file system until `leave` bytes are free; returns a function that frees it again. */
  function fill(leave: number): () => void {
    const filler = path.join(mnt, 'filler');
    const free = statfsSync(mnt).bavail * statfsSync(mnt).bsize;
    writeFileSync(filler, Buffer.alloc(Math.max(0, free - leave)));
    return () => rmSync(filler, { force: true });
  }

  it('wal-push onto a nearly full disk fails with one disk-full line and stores nothing; a later push succeeds', async (t) => {
    if (!mounted) return t.skip();
    const repoDir = path.join(mnt, 'repo-wal');
    const repo = `file://${repoDir}`;
    const src = dir('drctl-seg-');
    const seg = segmentFile(src);
    // A small first file creates the repository; the segment then meets a nearly full disk.
    const history = path.join(src, '00000002.history');
    writeFileSync(history, '1\t0/3000000\tno recovery target specified\n');
    expect((await drctl(['wal-push', '--repo', repo, history])).code).toBe(0);
    // 4 MB free: write(2) fails midway. Just under 16 MB free: the last write is short, which
    // once stored a truncated segment and exited 0.
    for (const leave of [4 * 1024 * 1024, SEG - 512 * 1024]) {
      const free = fill(leave);
      try {
        const r = await drctl(['wal-push', '--repo', repo, seg.file]);
        expect(r.code, `${leave} bytes free: ${r.all}`).toBe(1);
        // The segment is compressed on its way in, so the stored size is known only as a bound.
        expect(r.stderr).toMatch(new RegExp(`^drctl: repository disk full: at least \\d+ bytes needed, \\d+ free \\(${repo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)\n$`));
        const left = files(path.join(repoDir, 'wal'));
        expect(left).toEqual([expect.stringMatching(/^00000002\/00000002\.history-/)]);
        // PostgreSQL retries: while the disk is full, it fails the same way, never "already archived".
        expect((await drctl(['wal-push', '--repo', repo, seg.file])).code).toBe(1);
      } finally {
        free();
      }
    }
    const again = await drctl(['wal-push', '--repo', repo, seg.file]);
    expect(again.code, again.all).toBe(0);
    expect(existsSync(path.join(repoDir, 'wal', '00000001', `000000010000000000000001-${seg.sha256}.zst`))).toBe(true);
    const back = path.join(src, 'fetched');
    expect((await drctl(['wal-fetch', '--repo', repo, '000000010000000000000001', back])).code).toBe(0);
    expect(statSync(back).size).toBe(SEG);
    expect(createHash('sha256').update(readFileSync(back)).digest('hex')).toBe(seg.sha256);
    rmSync(repoDir, { recursive: true }); // room for the next test on the 20 MB file system
  });

  it('a backup onto a full disk fails with the disk-full line and is never listed', async (t) => {
    if (!mounted) return t.skip();
    const repoDir = path.join(mnt, 'repo-backup');
    const repo = `file://${repoDir}`;
    const free = fill(2 * 1024 * 1024);
    try {
      const r = await drctl(['backup', '--source', pg.url('big'), '--repo', repo]);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toMatch(/repository disk full: at least \d+ bytes needed, \d+ free/);
      const list = await drctl(['backups', 'list', '--json', '--repo', repo]);
      expect(JSON.parse(list.stdout)).toEqual([]);
      expect(files(path.join(repoDir, 'backups'))).toEqual([]);
      expect(existsSync(path.join(repoDir, 'locks', 'repo.lock'))).toBe(false);
    } finally {
      free();
    }
    const ok = await drctl(['backup', '--source', pg.url('big'), '--repo', repo]);
    expect(ok.code, ok.all).toBe(0);
  });
});

describe('repository lock', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
    await pg.sql('create database app');
    await pg.sql('create table t (x int); insert into t select generate_series(1, 1000)', 'app');
  });
  afterAll(async () => destroyPostgres(pg));

  it('after kill -9 of a backup, the next backup takes the dead process’s lock over at once', async () => {
    const repoDir = dir('drctl-lock-kill-');
    const repo = `file://${repoDir}`;
    let pid = 0;
    const killed = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], { env: { DRCTL_FAULT: 'backup-before-manifest' }, onSpawn: (c) => (pid = c.pid!) });
    expect(killed.signal).toBe('SIGKILL');
    expect(lockOf(repoDir)).toMatchObject({ host: os.hostname(), pid, purpose: 'backup' });
    const next = await drctl(['backup', '--source', pg.url('app'), '--repo', repo]);
    expect(next.code, next.all).toBe(0);
    expect(next.all).toContain(`took over a stale repository lock (host ${os.hostname()} pid ${pid} for backup`);
    expect(next.all).toContain(`process ${pid} on this host is gone`);
    expect(existsSync(path.join(repoDir, 'locks', 'repo.lock'))).toBe(false);
  });

  it('two concurrent backups: one runs; the other fails naming the holder, or waits with DRCTL_LOCK_WAIT and runs after it', async () => {
    const repoDir = dir('drctl-lock-conc-');
    const repo = `file://${repoDir}`;
    const pause = path.join(dir('drctl-pause-'), 'held');
    let holder: import('node:child_process').ChildProcess | undefined;
    const first = drctl(['backup', '--source', pg.url('app'), '--repo', repo], { env: { DRCTL_PAUSE: `lock-acquired:${pause}` }, onSpawn: (c) => (holder = c) });
    await until(() => existsSync(pause), 'the first backup to hold the lock', holder);

    const refused = await drctl(['backup', '--source', pg.url('app'), '--repo', repo]);
    expect(refused.code).toBe(1);
    expect(refused.all).toContain(`is locked by host ${os.hostname()} pid ${holder!.pid} for backup since`);

    // The wait is bounded: the holder stays paused, so a 1-second wait always runs out.
    const gaveUp = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], { env: { DRCTL_LOCK_WAIT: '1s' } });
    expect(gaveUp.code).toBe(1);
    expect(gaveUp.all).toMatch(new RegExp(`is locked by host ${os.hostname()} pid ${holder!.pid} for backup since .*\\(waited \\d`));

    let waitingLog = '';
    const waiter = drctl(['backup', '--source', pg.url('app'), '--repo', repo], {
      env: { DRCTL_LOCK_WAIT: '5m' },
      onSpawn: (c) => c.stderr!.on('data', (d: Buffer) => (waitingLog += d.toString())),
    });
    await until(() => /waiting up to \S+ for the repository lock held by host/.test(waitingLog), 'the second backup to wait');
    rmSync(pause);
    const [a, b]: CliResult[] = await Promise.all([first, waiter]);
    expect(a.code, a.all).toBe(0);
    expect(b.code, b.all).toBe(0);
    expect(JSON.parse((await drctl(['backups', 'list', '--json', '--repo', repo])).stdout)).toHaveLength(2);
  });

  it('a lock from another host is live while refreshed and taken over once not refreshed for 5 minutes', async () => {
    const repoDir = dir('drctl-lock-host-');
    const repo = `file://${repoDir}`;
    const now = new Date().toISOString();
    writeLock(repoDir, { token: 'a'.repeat(32), host: 'other-host', pid: 4242, purpose: 'backup', acquiredAt: now, refreshedAt: now });
    const live = await drctl(['backup', '--source', pg.url('app'), '--repo', repo]);
    expect(live.code).toBe(1);
    expect(live.all).toContain('is locked by host other-host pid 4242 for backup since');
    const old = new Date(Date.now() - 6 * 60_000).toISOString();
    writeLock(repoDir, { token: 'b'.repeat(32), host: 'other-host', pid: 4242, purpose: 'backup', acquiredAt: old, refreshedAt: old });
    const taken = await drctl(['backup', '--source', pg.url('app'), '--repo', repo]);
    expect(taken.code, taken.all).toBe(0);
    expect(taken.all).toMatch(/took over a stale repository lock \(host other-host pid 4242 for backup since .*\): not refreshed for 6m\d\ds/);
  });

  it('repo unlock removes a stale lock, refuses a live one unless --force, and asks first', async () => {
    const repoDir = dir('drctl-lock-unlock-');
    const repo = `file://${repoDir}`;
    const first = await drctl(['backup', '--source', pg.url('app'), '--repo', repo]);
    expect(first.code, first.all).toBe(0);
    expect((await drctl(['repo', 'unlock', '--repo', repo])).stdout).toContain('is not locked');
    const now = new Date().toISOString();
    writeLock(repoDir, { token: 'c'.repeat(32), host: 'other-host', pid: 77, purpose: 'expire', acquiredAt: now, refreshedAt: now });
    const refused = await drctl(['repo', 'unlock', '--repo', repo, '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('locked by host other-host pid 77 for expire');
    expect(refused.stderr).toContain('looks live; if you are sure that process is gone, pass --force');
    const noTty = await drctl(['repo', 'unlock', '--repo', repo, '--force']);
    expect(noTty.code).toBe(4);
    expect(existsSync(path.join(repoDir, 'locks', 'repo.lock'))).toBe(true);
    const forced = await drctl(['repo', 'unlock', '--repo', repo, '--force', '--yes']);
    expect(forced.code, forced.all).toBe(0);
    expect(existsSync(path.join(repoDir, 'locks', 'repo.lock'))).toBe(false);
    const old = new Date(Date.now() - 60 * 60_000).toISOString();
    writeLock(repoDir, { token: 'd'.repeat(32), host: 'other-host', pid: 77, purpose: 'backup', acquiredAt: old, refreshedAt: old });
    const stale = await drctl(['repo', 'unlock', '--repo', repo, '--yes']);
    expect(stale.code, stale.all).toBe(0);
    expect(stale.stdout).toMatch(/removed locks\/repo\.lock .*not refreshed for/);
    expect(existsSync(path.join(repoDir, 'locks', 'repo.lock'))).toBe(false);
  });
});

describe('file permissions under umask 022', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
    await pg.sql('create database app');
    await pg.sql('create table t (x int); insert into t values (1)', 'app');
  });
  afterAll(async () => destroyPostgres(pg));

  function run022(args: string[], env: Record<string, string>): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', 'umask 022; exec "$0" "$@"', process.execPath, CLI, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, cwd: dir('drctl-cwd-'), stdio: 'ignore' });
      child.on('error', reject);
      child.on('exit', resolve);
    });
  }

  function modes(root: string): { file: string; mode: string }[] {
    const out = [{ file: '.', mode: (statSync(root).mode & 0o777).toString(8) }];
    for (const f of readdirSync(root, { recursive: true }) as string[]) out.push({ file: f, mode: (statSync(path.join(root, f)).mode & 0o777).toString(8) });
    return out;
  }

  it('repository, state dir and history are private (0600/0700); reports follow the umask', async () => {
    const base = dir('drctl-perm-');
    const repoDir = path.join(base, 'repo');
    const state = path.join(base, 'state');
    const report = path.join(base, 'reports', 'backup.json');
    const env = { DRCTL_STATE_DIR: state };
    expect(await run022(['--report', report, 'backup', '--source', pg.url('app'), '--repo', `file://${repoDir}`], env)).toBe(0);
    const seg = segmentFile(dir('drctl-perm-seg-'));
    expect(await run022(['wal-push', '--repo', `file://${repoDir}`, seg.file], env)).toBe(0);
    expect(await run022(['verify-backups', '--repo', `file://${repoDir}`, '--max-age', '1h'], env)).toBe(0);
    const expectPrivate = (root: string) => {
      const bad = modes(root).filter((m) => m.mode !== (statSync(path.join(root, m.file)).isDirectory() ? '700' : '600'));
      expect(bad, root).toEqual([]);
    };
    expect(files(repoDir).some((f) => f.startsWith('wal/')) && files(repoDir).some((f) => f.startsWith('history/verify/'))).toBe(true);
    expectPrivate(repoDir);
    expect(files(state).some((f) => f.startsWith('history/runs/'))).toBe(true);
    expectPrivate(state);
    expect((statSync(report).mode & 0o777).toString(8)).toBe('644');
  });
});

describe('verify-backups: WAL read check', () => {
  it('re-reads every archived segment since the newest base backup, or a subset; a damaged segment fails by name', async () => {
    const { pg, repoDir, repo } = await startArchivingPostgres();
    created.push(repoDir);
    try {
      await pg.sql('create database app');
      await pg.sql('create table t (x int); insert into t values (1)', 'app');
      expect((await drctl(['backup', '--type', 'base', '--source', pg.url('app'), '--repo', repo])).code).toBe(0);
      for (let i = 0; i < 3; i++) {
        await pg.sql(`insert into t values (${i})`, 'app');
        await switchAndWaitArchived(pg, repoDir);
      }
      const check = (r: CliResult) => (JSON.parse(r.stdout) as { checks: { name: string; status: string; figure: string }[] }).checks.find((c) => c.name === 'wal-read')!;
      const ok = await drctl(['verify-backups', '--repo', repo, '--json']);
      expect(ok.code, ok.all).toBe(0);
      const all = check(ok);
      expect(all.status).toBe('pass');
      const [, n, total] = /^(\d+) of (\d+) WAL file\(s\) since \w+ \(all\)/.exec(all.figure) ?? [];
      expect(Number(n)).toBeGreaterThanOrEqual(4);
      expect(n).toBe(total);

      // Damage one segment in a copy: names still list it, so only a read finds it.
      const copy = ownedByPostgres(dir('drctl-walread-'));
      cpSync(repoDir, copy, { recursive: true });
      const segs = archived(copy).filter((s) => /^[0-9A-F]{24}$/.test(s));
      const victim = segs[segs.length - 2]!;
      const file = path.join(copy, 'wal', '00000001', readdirSync(path.join(copy, 'wal', '00000001')).find((f) => f.startsWith(`${victim}-`))!);
      const bytes = readFileSync(file);
      // Inside the object whatever its size: a quiet segment compresses to a few hundred bytes.
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0xff;
      writeFileSync(file, bytes);
      const bad = await drctl(['verify-backups', '--repo', `file://${copy}`, '--json']);
      expect(bad.code).toBe(1);
      expect(check(bad).status).toBe('fail');
      expect(check(bad).figure).toContain(`WAL ${victim}`);
      // The stored segment is zstd: a flipped byte fails decompression or the checksum.
      expect(check(bad).figure).toMatch(/sha256 mismatch|cannot be decompressed/);
      const continuity = (JSON.parse(bad.stdout) as { checks: { name: string; status: string }[] }).checks.find((c) => c.name === 'wal-continuity')!;
      expect(continuity.status).toBe('pass');

      // n/m parts are fixed: together they read every file exactly once, and one of them fails.
      let read = 0;
      let failedParts = 0;
      for (const part of ['1/2', '2/2']) {
        const r = await drctl(['verify-backups', '--repo', `file://${copy}`, '--json', '--read-data-subset', part]);
        const c = check(r);
        read += Number(/^(\d+) of \d+ WAL file/.exec(c.figure)![1]);
        if (c.status === 'fail') failedParts++;
      }
      expect(read).toBe(Number(total));
      expect(failedParts).toBe(1);
      const pct = check(await drctl(['verify-backups', '--repo', repo, '--json', '--read-data-subset', '50%']));
      expect(pct.figure).toMatch(new RegExp(`^${Math.ceil(Number(total) / 2)} of ${total} WAL file\\(s\\) .*\\(a 50% sample\\)`));

      for (const badValue of ['0%', '150%', '3/2', '0/4', 'half']) {
        const r = await drctl(['verify-backups', '--repo', repo, '--read-data-subset', badValue]);
        expect(r.code, badValue).toBe(2);
        expect(r.stderr).toContain(`--read-data-subset ${badValue}: expected a percentage`);
      }
    } finally {
      await destroyPostgres(pg);
    }
  });
});
