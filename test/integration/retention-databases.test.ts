import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealManifest, type Manifest } from '../../src/repository/manifest.js';
import { drctl, tempDir } from '../support/cli.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';

// One repository for two databases of one server: hourly dumps of `app`, nightly dumps of
// `billing`. Retention counts per database, and `restore --backup latest` refuses to pick one
// of them for the operator.

describe('one repository, two databases', () => {
  let pg: PgServer;
  let repo: string;
  const app: string[] = [];
  const billing: string[] = [];

  const backup = async (db: string): Promise<string> => {
    const b = await drctl(['backup', '--source', pg.url(db), '--repo', repo]);
    expect(b.code, b.stderr).toBe(0);
    return b.stdout.trim();
  };
  const listed = async (r: string): Promise<string[]> => (JSON.parse((await drctl(['backups', 'list', '--json', '--repo', r])).stdout) as { id: string }[]).map((b) => b.id);

  beforeAll(async () => {
    pg = await startPostgres();
    for (const db of ['app', 'billing']) {
      await pg.sql(`create database ${db}`);
      await pg.sql(`create table t (n int); insert into t select generate_series(1, ${db === 'app' ? 10 : 20})`, db);
    }
    repo = `file://${tempDir('drctl-two-dbs-')}`;
    billing.push(await backup('billing'));
    app.push(await backup('app'), await backup('app'));
    billing.push(await backup('billing'));
    app.push(await backup('app'), await backup('app'));
  });
  afterAll(async () => destroyPostgres(pg));

  it('restore --backup latest names both databases in one line, exit 2, and touches no target', async () => {
    const r = await drctl(['restore', '--backup', 'latest', '--target', pg.url('copy'), '--repo', repo]);
    expect(r.code, r.all).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain('holds logical backups of 2 databases');
    expect(lines[0]).toMatch(new RegExp(`app on [^ ]+ \\(newest ${app[3]}\\)`));
    expect(lines[0]).toMatch(new RegExp(`billing on [^ ]+ \\(newest ${billing[1]}\\)`));
    expect(lines[0]).toContain('pass --backup <id>');
    expect(await pg.sql("select count(*) from pg_database where datname = 'copy'")).toBe('0');

    // Naming the backup still works.
    const named = await drctl(['restore', '--backup', billing[1]!, '--target', pg.url('copy'), '--repo', repo]);
    expect(named.code, named.stderr).toBe(0);
    expect(await pg.sql('select count(*) from t', 'copy')).toBe('20');
  });

  it('expire --keep-last 2 keeps the last 2 of each database', async () => {
    const dry = await drctl(['backups', 'expire', '--keep-last', '2', '--repo', repo]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`would remove ${app[0]}`);
    expect(dry.stdout).toContain(`keeping ${billing[0]} (among the last 2 of billing on`);

    const done = await drctl(['backups', 'expire', '--keep-last', '2', '--repo', repo, '--confirm']);
    expect(done.code, done.stderr).toBe(0);
    expect((await listed(repo)).sort()).toEqual([app[2], app[3], billing[0], billing[1]].sort());

    const one = await drctl(['backups', 'expire', '--keep-last', '1', '--repo', repo, '--confirm']);
    expect(one.code, one.stderr).toBe(0);
    expect((await listed(repo)).sort()).toEqual([app[3], billing[1]].sort());
  });

  it('verify-backups fails backup-age for a database whose backups stopped, though another’s are fresh', async () => {
    // billing's last backup, made three days ago: its manifest says so, resealed.
    const file = path.join(repo.slice('file://'.length), 'backups', billing[1]!, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString();
    writeFileSync(file, JSON.stringify(sealManifest({ ...m, stoppedAt: threeDaysAgo, recoveryPoint: threeDaysAgo })));
    const r = await drctl(['verify-backups', '--repo', repo, '--max-age', '1d', '--json']);
    expect(r.code, r.all).toBe(1);
    const age = (JSON.parse(r.stdout) as { checks: { name: string; status: string; figure: string; backup?: string }[] }).checks.filter((c) => c.name === 'backup-age');
    expect(age.map((c) => [c.backup, c.status])).toEqual(expect.arrayContaining([[app[3], 'pass'], [billing[1], 'fail']]));
    expect(age).toHaveLength(2);
    expect(age.find((c) => c.status === 'fail')!.figure).toMatch(/^billing on \S+: age 3d[^(]*\(max 24h00m\): stale$/);
  });

  it('with backups of one database only, restore --backup latest restores its newest', async () => {
    const single = `file://${tempDir('drctl-one-db-')}`;
    const first = await drctl(['backup', '--source', pg.url('app'), '--repo', single]);
    expect(first.code, first.stderr).toBe(0);
    await pg.sql('insert into t values (11)', 'app');
    const second = await drctl(['backup', '--source', pg.url('app'), '--repo', single]);
    expect(second.code, second.stderr).toBe(0);

    const r = await drctl(['restore', '--backup', 'latest', '--target', pg.url('app_copy'), '--repo', single]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.all).toContain(`restoring ${second.stdout.trim()}`);
    expect(await pg.sql('select count(*) from t', 'app_copy')).toBe('11');
  });
});
