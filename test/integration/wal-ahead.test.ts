import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, truncateSync, watch, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, drctl, tempDir } from '../support/cli.js';
import { ownedByPostgres } from '../support/archiving.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';

// wal-push's look-ahead, against a real PostgreSQL whose archive_command is drctl wal-push: a run
// that finds waiting segments pushes them ahead, and the later runs answer from a marker. The
// edge cases (a short segment, another repository, changed content, a removed object, an upload
// that fails, a crash) use copies of that server's real segments in a pg_wal-shaped directory.

const KEY = 'ahead-canary-passphrase-5d2e';
const TL = '00000001';
const CANARY = 'aheadcanary7f3qx91';

describe('wal-push look-ahead', () => {
  let pg: PgServer;
  let hooks: string;
  let log: string;
  const segs: string[] = []; // real segments kept for the edge cases
  let segDir: string;

  /** What archive_command sees: a gate that makes it fail (to build a backlog) and its repository. */
  function archiveTo(repo: string, extra = ''): void {
    writeFileSync(path.join(hooks, 'archive.env'), `export DRCTL_REPO='${repo}'\n${extra}`);
  }

  beforeAll(async () => {
    hooks = ownedByPostgres(tempDir('drctl-ahead-hooks-'));
    log = path.join(hooks, 'archive.log');
    segDir = tempDir('drctl-ahead-segs-');
    // Logs, per call, whether a marker for the segment was there before drctl ran, and the exit code.
    writeFileSync(
      path.join(hooks, 'archive.sh'),
      `#!/bin/sh
[ -f "${hooks}/gate" ] && exit 1
. "${hooks}/archive.env"
if [ -f "pg_wal/drctl-ahead/$2.ok" ]; then m=marker; else m=none; fi
"${process.execPath}" "${CLI}" wal-push "$1"; rc=$?
echo "$2 $m $rc" >> "${log}"
exit $rc
`,
      { mode: 0o755 },
    );
    writeFileSync(log, '');
    ownedByPostgres(log);
    archiveTo('file:///nonexistent');
    pg = await startPostgres({ settings: { archive_mode: 'on', archive_command: `'sh ${hooks}/archive.sh %p %f'`, wal_level: 'replica' } });
    await pg.sql('create table t (i int)');
  }, 120_000);

  afterAll(async () => destroyPostgres(pg));

  /** Holds archiving, writes `n` segments, releases it; the names, oldest first, once all are archived. */
  async function backlog(n: number): Promise<string[]> {
    writeFileSync(path.join(hooks, 'gate'), '');
    const names: string[] = [];
    for (let i = 0; i < n; i++) {
      await pg.sql(`insert into t select g from generate_series(1, 1000) g`);
      names.push(await pg.sql('select pg_walfile_name(pg_switch_wal())'));
    }
    const status = path.join(pg.dataDir, 'pg_wal', 'archive_status');
    for (const s of names) expect(existsSync(path.join(status, `${s}.ready`)), s).toBe(true);
    // Kept while PostgreSQL must keep them (.ready): the edge cases reuse these real segments.
    if (!segs.length) for (const s of names) copyFileSync(path.join(pg.dataDir, 'pg_wal', s), path.join(segDir, s)), segs.push(s);
    rmSync(path.join(hooks, 'gate'));
    // A new .ready wakes the archiver out of its wait after the failures.
    await pg.sql(`insert into t values (0)`);
    const last = await pg.sql('select pg_walfile_name(pg_switch_wal())');
    names.push(last);
    const deadline = Date.now() + 90_000;
    while ((await pg.sql('select last_archived_wal from pg_stat_archiver')) !== last) {
      if (Date.now() > deadline) throw new Error(`not archived in 90 s; log:\n${readFileSync(log, 'utf8')}`);
      await sleep(200);
    }
    return names;
  }

  function calls(): { name: string; marker: boolean; rc: number }[] {
    return readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '))
      .map(([name, m, rc]) => ({ name: name!, marker: m === 'marker', rc: Number(rc) }));
  }

  async function fetched(repo: string, name: string, env: Record<string, string> = {}): Promise<Buffer> {
    const dest = path.join(tempDir('drctl-ahead-fetch-'), name);
    const r = await drctl(['wal-fetch', name, dest, '--repo', repo], { env });
    expect(r.code, r.all).toBe(0);
    return readFileSync(dest);
  }

  async function archivesThrough(repo: string, env: Record<string, string>): Promise<void> {
    writeFileSync(log, '');
    const names = await backlog(6);
    const seen = calls();
    for (const n of names) expect(seen.filter((c) => c.name === n && c.rc === 0), `${n}: ${JSON.stringify(seen)}`).toHaveLength(1);
    // The oldest run pushed the others ahead; they answered from their markers.
    expect(seen.filter((c) => c.marker).length, JSON.stringify(seen)).toBeGreaterThanOrEqual(3);
    for (const n of names.slice(0, 6)) {
      const local = path.join(pg.dataDir, 'pg_wal', n);
      if (existsSync(local)) expect((await fetched(repo, n, env)).equals(readFileSync(local)), n).toBe(true);
    }
    expect(readdirSync(path.join(pg.dataDir, 'pg_wal', 'drctl-ahead'))).toEqual([]);
  }

  it('a run pushes the waiting segments ahead; every one is archived, verified, and its marker consumed', async () => {
    const repoDir = ownedByPostgres(tempDir('drctl-ahead-repo-'));
    archiveTo(`file://${repoDir}`);
    await archivesThrough(`file://${repoDir}`, {});
  }, 180_000);

  it('works the same into an encrypted repository', async () => {
    const repoDir = ownedByPostgres(tempDir('drctl-ahead-enc-'));
    const init = await drctl(['repo', 'init', '--encrypt', '--repo', `file://${repoDir}`], { env: { DRCTL_ENCRYPTION_KEY: KEY } });
    expect(init.code, init.all).toBe(0);
    ownedByPostgres(repoDir);
    for (const f of readdirSync(repoDir)) ownedByPostgres(path.join(repoDir, f));
    archiveTo(`file://${repoDir}`, `export DRCTL_ENCRYPTION_KEY='${KEY}'\n`);
    await archivesThrough(`file://${repoDir}`, { DRCTL_ENCRYPTION_KEY: KEY });
  }, 180_000);

  /** A pg_wal-shaped directory holding copies of the real segments, all waiting. */
  function fakeWal(): { wal: string; spool: string; seg: (i: number) => string } {
    const wal = path.join(tempDir('drctl-ahead-pgwal-'), 'pg_wal');
    mkdirSync(path.join(wal, 'archive_status'), { recursive: true });
    for (const s of segs.slice(0, 5)) {
      copyFileSync(path.join(segDir, s), path.join(wal, s));
      writeFileSync(path.join(wal, 'archive_status', `${s}.ready`), '');
    }
    return { wal, spool: path.join(wal, 'drctl-ahead'), seg: (i) => path.join(wal, segs[i]!) };
  }
  const push = (repoDir: string, file: string, env: Record<string, string> = {}) => drctl(['wal-push', file, '--repo', `file://${repoDir}`], { env });
  const stored = (repoDir: string) => readdirSync(path.join(repoDir, 'wal', TL)).map((f) => f.slice(0, 24));

  it('never pushes a short segment ahead, and markers fool neither another repository nor changed content', async () => {
    const { wal, spool, seg } = fakeWal();
    truncateSync(seg(4), 4096); // waiting, but short
    const repoA = tempDir('drctl-ahead-a-');
    const r = await push(repoA, seg(0));
    expect(r.code, r.all).toBe(0);
    expect(readdirSync(spool).sort()).toEqual([1, 2, 3].map((i) => `${segs[i]}.ok`));
    expect(stored(repoA)).not.toContain(segs[4]);

    // Another repository: its own push, not A's marker.
    const repoB = tempDir('drctl-ahead-b-');
    expect((await push(repoB, seg(1))).code).toBe(0);
    expect(stored(repoB)).toContain(segs[1]);
    expect(existsSync(path.join(spool, `${segs[1]}.ok`))).toBe(false);

    // Same name, other content (a restored cluster reusing it): A holds the original, so this conflicts.
    copyFileSync(seg(3), seg(2));
    const c = await push(repoA, seg(2));
    expect(c.code, c.all).not.toBe(0);
    expect(c.stderr).toMatch(/different content/);

    // The object went away after the marker was written (expiry, a repair by hand): pushed again.
    const objs = readdirSync(path.join(repoA, 'wal', TL));
    rmSync(path.join(repoA, 'wal', TL, objs.find((f) => f.startsWith(segs[3]!))!));
    expect((await push(repoA, seg(3))).code).toBe(0);
    expect(stored(repoA)).toContain(segs[3]);
    expect((await fetched(`file://${repoA}`, segs[3]!)).equals(readFileSync(seg(3)))).toBe(true);
    expect(readdirSync(wal)).toContain('drctl-ahead');
  }, 120_000);

  it('a look-ahead upload that fails leaves no marker; the segment’s own run pushes it (and fails while it cannot)', async () => {
    const { spool, seg } = fakeWal();
    // The key segment 1 will have, learnt from a scratch repository; a directory there makes its upload fail.
    const scratch = tempDir('drctl-ahead-scratch-');
    expect((await push(scratch, seg(1), { DRCTL_WAL_AHEAD: '0' })).code).toBe(0);
    const key = readdirSync(path.join(scratch, 'wal', TL))[0]!;
    const repo = tempDir('drctl-ahead-fail-');
    const obstacle = path.join(repo, 'wal', TL, key);
    mkdirSync(obstacle, { recursive: true });
    const r = await push(repo, seg(0));
    expect(r.code, r.all).toBe(0);
    expect(r.stderr).toContain(`look-ahead of ${segs[1]} failed`);
    expect(existsSync(path.join(spool, `${segs[1]}.ok`))).toBe(false);
    expect(existsSync(path.join(spool, `${segs[2]}.ok`))).toBe(true);
    // Its own run pushes normally: it cannot store it, and says so rather than claim it.
    const blocked = await push(repo, seg(1));
    expect(blocked.code, blocked.all).not.toBe(0);
    rmSync(obstacle, { recursive: true });
    const ok = await push(repo, seg(1));
    expect(ok.code, ok.all).toBe(0);
    expect((await fetched(`file://${repo}`, segs[1]!)).equals(readFileSync(seg(1)))).toBe(true);
  }, 120_000);

  it('a look-ahead failure line is redacted: a secret in the error it quotes is masked (canary)', async () => {
    const { seg } = fakeWal();
    // The repository's path holds a registered secret, and it already holds other content under
    // segment 1's name: the look-ahead of segment 1 fails with an error that names the repository.
    const repo = tempDir(`drctl-ahead-${CANARY}-`);
    const other = path.join(tempDir('drctl-ahead-other-'), segs[1]!);
    copyFileSync(seg(2), other);
    expect((await push(repo, other, { DRCTL_WAL_AHEAD: '0' })).code).toBe(0);
    const r = await push(repo, seg(0), { DRCTL_AHEAD_CANARY_TOKEN: CANARY });
    expect(r.code, r.all).toBe(0);
    const line = r.stderr.split('\n').find((l) => l.includes(`look-ahead of ${segs[1]} failed`));
    expect(line, r.all).toMatch(/different content/);
    expect(line).toContain('***');
    expect(r.all).not.toContain(CANARY);
  }, 120_000);

  it('a look-ahead setting that is not a number in range is one line, exit 2', async () => {
    const { seg } = fakeWal();
    for (const [name, value] of [['DRCTL_WAL_AHEAD', 'lots'], ['DRCTL_WAL_AHEAD_PARALLEL', '0']] as const) {
      const r = await push(tempDir('drctl-ahead-bad-'), seg(0), { [name]: value });
      expect(r.code, r.all).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(name);
    }
  }, 60_000);

  it('a run killed mid-look-ahead leaves only markers whose objects read back right', async () => {
    for (let round = 0; round < 2; round++) {
      const { spool, seg } = fakeWal();
      const repo = tempDir('drctl-ahead-crash-');
      mkdirSync(path.join(repo, 'wal', TL), { recursive: true });
      // Killed once the first object lands (round 0) or once the first marker does (round 1).
      const watched = round === 0 ? path.join(repo, 'wal', TL) : spool;
      mkdirSync(watched, { recursive: true });
      const r = await drctl(['wal-push', seg(0), '--repo', `file://${repo}`], {
        env: { DRCTL_WAL_AHEAD_PARALLEL: '3' },
        onSpawn: (child) => {
          const w = watch(watched, () => {
            const landed = round === 0 ? /^[0-9A-F]{24}-[0-9a-f]{64}\.(zst|gz|raw)$/ : /^[0-9A-F]{24}\.ok$/;
            if (readdirSync(watched).some((f) => landed.test(f))) {
              child.kill('SIGKILL');
              w.close();
            }
          });
          child.on('close', () => w.close());
        },
      });
      expect(r.signal, r.all).toBe('SIGKILL');
      const left = existsSync(spool) ? readdirSync(spool).filter((f) => f.endsWith('.ok')) : [];
      if (round === 1) expect(left.length).toBeGreaterThan(0);
      for (const m of left) {
        const name = m.slice(0, 24);
        expect((await fetched(`file://${repo}`, name)).equals(readFileSync(path.join(segDir, name))), name).toBe(true);
      }
      // Every segment's own run then succeeds, marker or not, and all read back.
      for (let i = 0; i < 4; i++) expect((await push(repo, seg(i))).code).toBe(0);
      for (let i = 0; i < 4; i++) expect((await fetched(`file://${repo}`, segs[i]!)).equals(readFileSync(seg(i)))).toBe(true);
    }
  }, 180_000);
});
