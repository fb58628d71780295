import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';

// The runbook for a database dropped for good: `app` and `billing` are dumped into one
// repository; billing is dropped. Retention keeps billing's last dump for ever, so the operator
// removes billing's dumps by name: a dry run first, which names them, then --confirm.

describe('backups expire --backup: removing a retired database’s dumps by name', () => {
  let pg: PgServer;
  let repoDir: string;
  let repo: string;
  const app: string[] = [];
  const billing: string[] = [];

  const backup = async (db: string): Promise<string> => {
    const b = await drctl(['backup', '--source', pg.url(db), '--repo', repo]);
    expect(b.code, b.stderr).toBe(0);
    return b.stdout.trim();
  };
  const listed = async (): Promise<string[]> => (JSON.parse((await drctl(['backups', 'list', '--json', '--repo', repo])).stdout) as { id: string }[]).map((b) => b.id).sort();

  beforeAll(async () => {
    pg = await startPostgres();
    for (const db of ['app', 'billing']) {
      await pg.sql(`create database ${db}`);
      await pg.sql(`create table t (n int); insert into t select generate_series(1, ${db === 'app' ? 10 : 20})`, db);
    }
    repoDir = tempDir('drctl-expire-named-');
    repo = `file://${repoDir}`;
    billing.push(await backup('billing'));
    app.push(await backup('app'));
    billing.push(await backup('billing'));
    app.push(await backup('app'));
    await pg.sql('drop database billing');
  });
  afterAll(async () => destroyPostgres(pg));

  it('1. while billing’s dumps are there, restore --backup latest refuses to choose', async () => {
    const r = await drctl(['restore', '--backup', 'latest', '--target', pg.url('copy'), '--repo', repo]);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr).toContain('holds logical backups of 2 databases');
  });

  it('2. retention alone keeps billing’s last dump', async () => {
    const r = await drctl(['backups', 'expire', '--keep-last', '1', '--repo', repo]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`keeping ${billing[1]} (newest logical backup of billing on`);
  });

  it('3. a mistyped id, or latest: exit 2 in one line naming the flag and the value, nothing removed, no lock left', async () => {
    const typo = `${billing[0]!.slice(0, -1)}x`;
    for (const [id, words] of [
      [typo, `--backup ${typo}: no such backup in ${repo}`],
      ['latest', '--backup latest: expire removes backups only by their id'],
    ] as const) {
      const r = await drctl(['backups', 'expire', '--backup', billing[0]!, '--backup', id, '--repo', repo, '--confirm']);
      expect(r.code, r.all).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toContain(words);
    }
    expect(await listed()).toEqual([...app, ...billing].sort());
    expect(existsSync(path.join(repoDir, 'locks', 'repo.lock'))).toBe(false);
  });

  it('4. without --confirm: the plan names billing’s dumps, and nothing is removed', async () => {
    const r = await drctl(['backups', 'expire', '--backup', billing[0]!, '--backup', billing[1]!, '--repo', repo]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`would remove ${billing[0]} (named with --backup)`);
    expect(r.stdout).toContain(`would remove ${billing[1]} (named with --backup)`);
    // Without --keep-last/--keep-days, every other backup stays.
    for (const id of app) expect(r.stdout).toContain(`keeping ${id} (`);
    expect(r.stdout).not.toContain('note:');
    expect(r.stdout).toContain('dry run: pass --confirm to delete');
    expect(await listed()).toEqual([...app, ...billing].sort());
  });

  it('5. with --confirm: billing’s dumps are gone, app’s untouched; --json lists them as removed', async () => {
    const r = await drctl(['backups', 'expire', '--backup', billing[0]!, '--backup', billing[1]!, '--repo', repo, '--confirm', '--json']);
    expect(r.code, r.all).toBe(0);
    const doc = JSON.parse(r.stdout) as { removed: boolean; remove: { id: string; why: string }[]; keep: { id: string }[] };
    expect(doc.removed).toBe(true);
    expect(doc.remove).toEqual(billing.map((id) => ({ id, why: 'named with --backup' })));
    expect(doc.keep.map((k) => k.id).sort()).toEqual([...app].sort());
    expect(r.stderr).toContain(`removing ${billing[0]} (named with --backup)`);
    expect(await listed()).toEqual([...app].sort());
    expect(existsSync(path.join(repoDir, 'backups', billing[0]!))).toBe(false);
  });

  it('6. restore --backup latest now restores app’s newest dump', async () => {
    const r = await drctl(['restore', '--backup', 'latest', '--target', pg.url('app_copy'), '--repo', repo]);
    expect(r.code, r.all).toBe(0);
    expect(r.all).toContain(`restoring ${app[1]}`);
    expect(await pg.sql('select count(*) from t', 'app_copy')).toBe('10');
  });

  it('7. an id already removed is bad input too', async () => {
    const r = await drctl(['backups', 'expire', '--backup', billing[1]!, '--repo', repo, '--confirm']);
    expect(r.code, r.all).toBe(2);
    expect(r.stderr.trim()).toBe(`drctl: --backup ${billing[1]}: no such backup in ${repo} (see drctl backups list)`);
    expect(await listed()).toEqual([...app].sort());
  });
});
