import { chmodSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, drctl, tempDir, type CliResult } from '../support/cli.js';
import { ownedByPostgres, switchAndWaitArchived } from '../support/archiving.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';

// pg_basebackup -X none waits inside pg_backup_stop until its last WAL segment is archived:
// with archive_command failing it would never end. drctl must refuse to start such a backup,
// and stop one whose archiving starts failing, in one line, leaving nothing in the repository.

const SEGMENT = /\b[0-9A-F]{24}\b/;

interface Archiver {
  lastArchived: string;
  lastFailed: string;
  failing: boolean;
}

async function archiver(pg: PgServer): Promise<Archiver> {
  const row = await pg.sql(
    `select coalesce(last_archived_wal, ''), coalesce(last_failed_wal, ''),
            coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false)
       from pg_stat_archiver`,
  );
  const [lastArchived = '', lastFailed = '', failing = ''] = row.split('|');
  return { lastArchived, lastFailed, failing: failing === 't' };
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
    await sleep(100);
  }
}

/** Finishes a WAL segment with something in it, so the archiver has a segment to (fail to) archive. */
async function finishSegment(pg: PgServer): Promise<string> {
  await pg.sql('create table if not exists t (i int); insert into t values (1)');
  return pg.sql('select pg_walfile_name(pg_switch_wal())');
}

/** Files under backups/<id>/data of a file repository: parts a failed backup would leave behind. */
function storedParts(repoDir: string): string[] {
  const backups = path.join(repoDir, 'backups');
  if (!existsSync(backups)) return [];
  return readdirSync(backups).flatMap((id) => {
    const data = path.join(backups, id, 'data');
    return existsSync(data) ? readdirSync(data).map((f) => `${id}/data/${f}`) : [];
  });
}

/** The backup step's failure: exit 1, and one error line (the CLI logs JSON lines without a TTY). */
function backupFailure(r: CliResult): string {
  expect(r.code, r.all).toBe(1);
  expect(r.all).not.toMatch(/\n\s+at /);
  const errors = r.stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: number; event?: string; step?: string; reason?: string })
    .filter((e) => e.level >= 50);
  expect(errors, r.all).toHaveLength(1);
  expect(errors[0]).toMatchObject({ event: 'step.end', step: 'backup' });
  const reason = errors[0]!.reason ?? '';
  expect(reason).not.toContain('\n');
  expect(reason).not.toMatch(/pg_basebackup failed|SIGKILL|end-of-archive|aborted/i);
  return reason;
}

async function expectNothingStored(repo: string, repoDir: string): Promise<void> {
  const list = await drctl(['backups', 'list', '--json', '--repo', repo]);
  expect(list.code, list.all).toBe(0);
  expect(JSON.parse(list.stdout)).toEqual([]);
  expect(storedParts(repoDir)).toEqual([]);
}

describe('base backup while WAL archiving fails', () => {
  let pg: PgServer;

  beforeAll(async () => {
    pg = await startPostgres({ settings: { archive_mode: 'on', archive_command: "'false'", wal_level: 'replica' } });
  }, 120_000);

  afterAll(async () => {
    await destroyPostgres(pg);
  });

  it('refuses to start, in one line naming the segment that fails, and stores nothing', async () => {
    const repoDir = tempDir('drctl-archfail-repo-');
    const repo = `file://${repoDir}`;
    expect((await drctl(['repo', 'init', '--repo', repo])).code).toBe(0);
    const segment = await finishSegment(pg);
    await waitFor('the archiver records the failure', async () => (await archiver(pg)).lastFailed === segment);
    const started = Date.now();
    const r = await drctl(['backup', '--type', 'base', '--source', pg.url(), '--repo', repo, '--archive-timeout', '3s']);
    expect(Date.now() - started).toBeLessThan(30_000);
    const line = backupFailure(r);
    expect(line).toMatch(/failing to archive WAL/);
    expect(line).toContain(segment);
    expect(line).toContain('did not recover within 3s');
    expect(line).toContain('cannot complete until archiving works');
    // archive_command may carry credentials: it is named, never quoted.
    expect(line).toContain('SHOW archive_command');
    expect(line).not.toContain("'false'");
    await expectNothingStored(repo, repoDir);
  });
});

describe('base backup whose archiving starts failing while pg_basebackup runs', () => {
  let pg: PgServer;
  let dir: string;
  let repoDir: string;
  let repo: string;
  let flag: string;

  beforeAll(async () => {
    dir = ownedByPostgres(tempDir('drctl-archflag-'));
    repoDir = ownedByPostgres(tempDir('drctl-archflag-repo-'));
    repo = `file://${repoDir}`;
    flag = path.join(dir, 'fail');
    // Archives with drctl wal-push, as the README says, until the flag file exists.
    const script = path.join(dir, 'archive.sh');
    writeFileSync(script, `#!/bin/sh\ntest -f '${flag}' && exit 1\nDRCTL_REPO='${repo}' exec '${process.execPath}' '${CLI}' wal-push "$1"\n`);
    chmodSync(script, 0o755);
    pg = await startPostgres({ settings: { archive_mode: 'on', archive_command: `'${script} %p'`, wal_level: 'replica' } });
  }, 120_000);

  afterAll(async () => {
    await destroyPostgres(pg);
  });

  it('stops pg_basebackup once archiving has failed for --archive-timeout, in one line, and stores nothing', async () => {
    await pg.sql('create table t (i int); insert into t values (1)');
    const healthy = await switchAndWaitArchived(pg, repoDir);
    await waitFor('pg_stat_archiver shows the success', async () => (await archiver(pg)).lastArchived === healthy);
    expect((await archiver(pg)).failing).toBe(false);
    writeFileSync(flag, '');
    const started = Date.now();
    const r = await drctl(['backup', '--type', 'base', '--source', pg.url(), '--repo', repo, '--archive-timeout', '3s'], { timeoutMs: 90_000 });
    const took = Date.now() - started;
    const line = backupFailure(r);
    // 3 s of failures, seen by polls 1 s apart, after a start of a second or two.
    expect(took, r.all).toBeLessThan(20_000);
    expect(line).toMatch(/could not archive WAL segment/);
    expect(line).toMatch(SEGMENT);
    expect(line).toMatch(/for \d+s/);
    expect(line).toContain('nothing was stored');
    expect(line.match(SEGMENT)![0]).toBe((await archiver(pg)).lastFailed.slice(0, 24));
    await expectNothingStored(repo, repoDir);
    // The server process that waited for archiving was ended too: it would hold a WAL sender
    // and the backup open until archiving works.
    await waitFor('the backup ends on the server', async () => (await pg.sql('select count(*) from pg_stat_progress_basebackup')) === '0', 10_000);
  });

  it('a backup started while archiving fails waits for it to recover, then succeeds', async () => {
    expect((await archiver(pg)).failing).toBe(true);
    let recovered: Promise<unknown> | undefined;
    const r = await drctl(['backup', '--type', 'base', '--source', pg.url(), '--repo', repo, '--archive-timeout', '60s'], {
      timeoutMs: 90_000,
      onSpawn: (child) => {
        // Archiving is repaired only once drctl says it waits for it: the wait is what is tested.
        child.stderr?.on('data', (d: Buffer) => {
          if (recovered || !d.toString().includes('waiting up to 60s for it to recover')) return;
          rmSync(flag, { force: true });
          // A new segment wakes the archiver, which retries the failed one first.
          recovered = finishSegment(pg);
        });
      },
    });
    expect(recovered, r.all).toBeDefined();
    await recovered;
    expect(r.code, r.all).toBe(0);
    expect(r.all).toContain('waiting up to 60s for it to recover before the base backup starts');
    const list = JSON.parse((await drctl(['backups', 'list', '--json', '--repo', repo])).stdout);
    expect(list).toHaveLength(1);
  });
});

describe('base backup whose archive command hangs', () => {
  let pg: PgServer;

  beforeAll(async () => {
    // Every archive attempt takes 8 s and reports nothing in the meantime: no failure is recorded.
    pg = await startPostgres({ settings: { archive_mode: 'on', archive_command: "'sleep 8'", wal_level: 'replica' } });
  }, 120_000);

  afterAll(async () => {
    // The archiver archives whatever is left before it exits: 8 s a segment, unless told otherwise.
    await pg.sql("alter system set archive_command = 'true'");
    await pg.sql('select pg_reload_conf()');
    await destroyPostgres(pg);
  }, 60_000);

  it('stops once the server has waited --archive-timeout for archiving, though nothing failed', async () => {
    const repoDir = tempDir('drctl-archhang-repo-');
    const repo = `file://${repoDir}`;
    expect((await archiver(pg)).failing).toBe(false);
    const started = Date.now();
    const r = await drctl(['backup', '--type', 'base', '--source', pg.url(), '--repo', repo, '--archive-timeout', '3s'], { timeoutMs: 90_000 });
    expect(Date.now() - started, r.all).toBeLessThan(20_000);
    const line = backupFailure(r);
    expect(line).toMatch(/waited \d+s for the base backup's last WAL segment to be archived, with no failure recorded/);
    expect(line).toContain('nothing was stored');
    await expectNothingStored(repo, repoDir);
    await waitFor('the backup ends on the server', async () => (await pg.sql('select count(*) from pg_stat_progress_basebackup')) === '0', 10_000);
  });
});

describe('archiveNow against a server whose archive command stores elsewhere', () => {
  let pg: PgServer;
  const CANARY = 'canary-secret-5170';

  beforeAll(async () => {
    // Archives "successfully" into nowhere; the command carries a credential-like value.
    pg = await startPostgres({ settings: { archive_mode: 'on', archive_command: `'true token=${CANARY}'`, wal_level: 'replica' } });
  }, 120_000);

  afterAll(async () => {
    await destroyPostgres(pg);
  });

  it('gives up after its timeout in one line that points at archive_command without quoting it', async () => {
    const dir = tempDir('drctl-archnow-');
    const repo = `file://${path.join(dir, 'repo')}`;
    expect((await drctl(['repo', 'init', '--repo', repo])).code).toBe(0);
    const rb = path.join(dir, 'archive-now.yaml');
    writeFileSync(
      rb,
      ['apiVersion: drctl/v1', 'name: archive-now', 'steps:', '  - id: archive', '    uses: postgres.archiveNow', `    with: { url: "${pg.url()}", repo: "${repo}", timeout: 2s }`, ''].join('\n'),
    );
    const r = await drctl(['run', rb]);
    expect(r.code, r.all).toBe(1);
    expect(r.all).toMatch(new RegExp(`WAL segment ${SEGMENT.source}, closed by pg_switch_wal\\(\\), did not reach`));
    expect(r.all).toContain("Check archive_command (SHOW archive_command), which does not run wal-push: it must be 'drctl wal-push %p'");
    expect(r.all).not.toContain(CANARY);
    expect(r.all).not.toMatch(/\n\s+at /);
  });
});
