import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownedByPostgres, startArchivingPostgres, switchAndWaitArchived, type ArchivingServer } from '../support/archiving.js';
import { CLI, drctl, tempDir } from '../support/cli.js';
import { clusterIn, destroyPostgres, freePort, giveToPostgres, pgExec, type PgServer } from '../support/postgres.js';

// restore_command = 'drctl wal-fetch %f %p', as users configure it by hand. PostgreSQL reads an
// exit code from 1 to 125 as "not in the archive" and ends an archive recovery there, promoting
// the server short of the data. A damaged segment, a wrong key or an unreachable repository must
// stop the recovery instead (exit 255), except on a standby, which asks again (exit 1).

/** Flips one byte in the middle of the stored object of `segment`. */
function damage(repoDir: string, segment: string): string {
  const dir = path.join(repoDir, 'wal', segment.slice(0, 8));
  const name = readdirSync(dir).find((f) => f.startsWith(`${segment}-`));
  if (!name) throw new Error(`${segment} is not in ${dir}`);
  const file = path.join(dir, name);
  const data = readFileSync(file);
  data[data.length >> 1] ^= 0xff;
  writeFileSync(file, data);
  return file;
}

describe('wal-fetch as restore_command when the archive is damaged', () => {
  let src: ArchivingServer;
  let restored: PgServer | undefined;
  beforeAll(async () => {
    src = await startArchivingPostgres();
  });
  afterAll(async () => {
    await restored?.stop();
    if (restored) rmSync(restored.dir, { recursive: true, force: true });
    await destroyPostgres(src?.pg);
    if (src) rmSync(src.repoDir, { recursive: true, force: true });
  });

  it('a damaged segment stops the recovery; the server never comes up short of the data', async () => {
    const { pg, repoDir, repo } = src;
    await pg.sql('create table t (batch int, x int)');
    const dir = tempDir('drctl-walfetch-');
    giveToPostgres(dir);
    const dataDir = path.join(dir, 'data');
    await pgExec('pg_basebackup', ['-d', pg.url(), '-D', dataDir, '-X', 'none', '-c', 'fast']);
    const segments: string[] = [];
    for (const batch of [1, 2, 3]) {
      await pg.sql(`insert into t select ${batch}, generate_series(1, 1000)`);
      segments.push(await switchAndWaitArchived(pg, repoDir));
    }
    // Batch 2's segment is damaged: batch 1 is all the archive can give before it.
    damage(repoDir, segments[1]!);

    const port = await freePort();
    restored = clusterIn({ dir, dataDir, port, host: '127.0.0.1', password: pg.password });
    restored.configure({
      port: String(port),
      unix_socket_directories: `'${dir}'`,
      archive_mode: 'off',
      restore_command: `'DRCTL_REPO=${repo} ${process.execPath} ${CLI} wal-fetch %f "%p"'`,
      recovery_target_action: `'promote'`,
      // pg_ctl -w then returns once recovery is over (promoted), or fails when the server stops.
      hot_standby: 'off',
    });
    writeFileSync(path.join(dataDir, 'recovery.signal'), '');
    giveToPostgres(path.join(dataDir, 'recovery.signal'));

    await restored.start().catch(() => {});
    // However pg_ctl saw it, the recovery's own outcome is in the log: an end, or the stop.
    const logFile = path.join(dir, 'server.log');
    let log = '';
    for (let i = 0; i < 300 && !/FATAL|archive recovery complete/.test(log); i++) {
      await sleep(100);
      log = readFileSync(logFile, 'utf8');
    }
    expect(log, log).toMatch(new RegExp(`drctl: WAL ${segments[1]} \\(.*\\): `));
    expect(log).toMatch(new RegExp(`FATAL: +could not restore file "${segments[1]}" from archive: child process exited with exit code 255`));
    expect(log).not.toContain('archive recovery complete');
    expect(log).not.toContain('database system is ready to accept connections');
  });

  it('exit codes: 0 fetched, 1 not archived (silent), 255 for anything else, 1 on a standby', async () => {
    const repoDir = ownedByPostgres(tempDir('drctl-walfetch-codes-'));
    const repo = `file://${repoDir}`;
    const work = tempDir('drctl-walfetch-work-');
    const seg = '0000000100000000000000A1';
    writeFileSync(path.join(work, seg), randomBytes(16 * 1024 * 1024));
    expect((await drctl(['wal-push', '--repo', repo, path.join(work, seg)])).code).toBe(0);

    const ok = await drctl(['wal-fetch', '--repo', repo, seg, path.join(work, 'got')], { cwd: work });
    expect(ok.code, ok.all).toBe(0);
    const missing = await drctl(['wal-fetch', '--repo', repo, '0000000100000000000000A2', path.join(work, 'none')], { cwd: work });
    expect([missing.code, missing.all]).toEqual([1, '']);

    damage(repoDir, seg);
    const bad = await drctl(['wal-fetch', '--repo', repo, seg, path.join(work, 'bad')], { cwd: work });
    expect(bad.code, bad.all).toBe(255);
    expect(bad.stderr).toMatch(new RegExp(`^drctl: WAL ${seg} \\(.*\\): .*\\n$`));
    // Through the full parser (a global option first) it is the same.
    const parsed = await drctl(['--log-level', 'error', 'wal-fetch', '--repo', repo, seg, path.join(work, 'bad')], { cwd: work });
    expect(parsed.code, parsed.all).toBe(255);
    // A repository that is not there, and a flag wal-fetch does not have: misconfigured, not "not archived".
    expect((await drctl(['wal-fetch', '--repo', `file://${work}/nowhere`, seg, path.join(work, 'x')], { cwd: work })).code).toBe(255);
    expect((await drctl(['wal-fetch', '--bogus', seg, path.join(work, 'x')], { cwd: work })).code).toBe(255);

    // A standby runs restore_command in its data directory, beside standby.signal: it asks again.
    const standby = path.join(work, 'standby');
    mkdirSync(standby);
    writeFileSync(path.join(standby, 'standby.signal'), '');
    const again = await drctl(['wal-fetch', '--repo', repo, seg, path.join(standby, 'bad')], { cwd: standby });
    expect(again.code, again.all).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`^drctl: WAL ${seg} \\(`));
    rmSync(work, { recursive: true, force: true });
    rmSync(repoDir, { recursive: true, force: true });
  });
});
