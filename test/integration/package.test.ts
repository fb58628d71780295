import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';
import { destroyPostgres, startPostgres } from '../support/postgres.js';

// The package as users get it: `npm pack`, installed globally into a temp prefix and locally
// into a project, then run from directories that are not the repository. Dependencies come
// from the local npm cache where it has them (--prefer-offline).

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const SHIPPED = readdirSync(path.join(ROOT, 'runbooks')).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5));

let root: string;
let tarball: string;
let prefix: string;
let elsewhere: string;

function npm(args: string[], cwd: string, env: Record<string, string> = {}): string {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
}

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, {
    cwd: elsewhere,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', DRCTL_STATE_DIR: path.join(root, 'state'), PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}`, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  root = tempDir('drctl-pack-');
  prefix = path.join(root, 'prefix');
  elsewhere = path.join(root, 'somewhere', 'else');
  mkdirSync(elsewhere, { recursive: true });
  // The global setup has built dist/; --ignore-scripts skips the prepack build.
  const out = npm(['pack', '--ignore-scripts', '--pack-destination', root], ROOT).trim().split('\n');
  tarball = path.join(root, out[out.length - 1]!);
  npm(['install', '-g', '--prefix', prefix, '--omit=dev', '--prefer-offline', tarball], root);
}, 600_000); // compiles zstd-napi from source: minutes on two busy cores; the limit only catches a hang

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('installed from the packed tarball', () => {
  it('ships the schema the runbooks point at, and no sources or tests', () => {
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    expect(listing).toContain('package/runbook.schema.json');
    expect(listing).toContain('package/dist/cli.js');
    for (const name of SHIPPED) expect(listing).toContain(`package/runbooks/${name}.yaml`);
    expect(listing.filter((f) => /^package\/(src|test)\//.test(f))).toEqual([]);
    expect(listing).not.toContain('package/dist/build-meta.json');
    // The bundle holds copies of packages: their licenses ship with it.
    const notices = readFileSync(path.join(prefix, 'lib', 'node_modules', 'drctl', 'dist', 'THIRD_PARTY_LICENSES.txt'), 'utf8');
    for (const pkg of ['zod', 'yaml', 'commander', 'execa', 'pg', 'pg-copy-streams']) expect(notices).toMatch(new RegExp(`^${pkg}@\\d+\\.\\d+\\.\\d+ \\(`, 'm'));
    const installed = path.join(prefix, 'lib', 'node_modules', 'drctl');
    // Source maps ship, for DRCTL_DEBUG=1 stacks that name the TypeScript line: no source text.
    const maps = listing.filter((f) => f.endsWith('.map'));
    expect(maps).toContain('package/dist/cli.js.map');
    for (const m of maps) expect(JSON.parse(readFileSync(path.join(installed, m.slice('package/'.length)), 'utf8')).sourcesContent).toBeUndefined();
    const firstLine = readFileSync(path.join(installed, 'runbooks', 'backup.yaml'), 'utf8').split('\n')[0]!;
    const ref = /\$schema=(\S+)/.exec(firstLine)?.[1];
    expect(ref).toBeDefined();
    expect(JSON.parse(readFileSync(path.resolve(installed, 'runbooks', ref!), 'utf8')).$schema).toContain('json-schema.org');
  });

  it('drctl --help and --version work from another directory', () => {
    const help = run('drctl', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('verify-backups');
    const version = run('drctl', ['--version']);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  it('validate and plan find every shipped runbook by name', () => {
    const r = run('drctl', ['validate', ...SHIPPED]);
    // Runbooks that paste an operator-supplied command with raw() are warned about, by design.
    expect(r.stderr.split('\n').filter((l) => l && !/:\d+:\d+ warning: /.test(l))).toEqual([]);
    expect(r.code).toBe(0);
    for (const name of SHIPPED) expect(r.stdout).toContain(`runbooks/${name}.yaml: ok`);
    const plan = run('drctl', ['plan', 'full-dr-drill']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('Runbook full-dr-drill');
  });

  it('drctl schema prints the shipped runbook.schema.json', () => {
    const r = run('drctl', ['schema']);
    expect(r.code).toBe(0);
    const shipped = readFileSync(path.join(prefix, 'lib', 'node_modules', 'drctl', 'runbook.schema.json'), 'utf8');
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(shipped));
  });

  it('built-in commands run their shipped runbooks', () => {
    const repo = path.join(root, 'repo');
    mkdirSync(repo);
    // verify-backups runs the shipped verify-backups runbook: an empty directory is no repository.
    const r = run('drctl', ['verify-backups', '--repo', `file://${repo}`, '--log-format', 'json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a drctl repository');
    expect(r.stderr).not.toContain('no verify-backups.yaml');
  });

  it('backs up and restores a real database: the bundled pg and execa work from the install', async () => {
    // pg, execa and their dependencies are bundled into drctl's chunks and are not installed
    // with it: a backup and a restore run both from the installed package alone.
    const pg = await startPostgres();
    try {
      await pg.sql('create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 500) g');
      const repo = `file://${path.join(root, 'pg-repo')}`;
      const b = run('drctl', ['backup', '--source', pg.url(), '--repo', repo]);
      expect(b.code, b.stderr).toBe(0);
      expect(b.stderr).toContain('manifest written');
      const r = run('drctl', ['restore', '--target', pg.url('copy'), '--repo', repo, '--yes']);
      expect(r.code, r.stderr).toBe(0);
      expect(await pg.sql('select count(*), sum(id) from t', 'copy')).toBe('500|125250');
    } finally {
      await destroyPostgres(pg);
    }
  }, 120_000);

  it('npx drctl runs the installed package, globally and from a project', () => {
    const global = run('npx', ['--no-install', 'drctl', 'plan', 'backup'], { npm_config_prefix: prefix });
    expect(global.code).toBe(0);
    expect(global.stdout).toContain('Runbook backup');
    const project = path.join(root, 'project');
    mkdirSync(path.join(project, 'sub'), { recursive: true });
    writeFileSync(path.join(project, 'package.json'), '{ "name": "ops", "private": true }\n');
    npm(['install', '--omit=dev', '--prefer-offline', tarball], project);
    const r = spawnSync('npx', ['--no-install', 'drctl', 'validate', 'verify-backups'], { cwd: path.join(project, 'sub'), encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`${path.join(project, 'node_modules', 'drctl', 'runbooks', 'verify-backups.yaml')}: ok`);
    expect(r.status).toBe(0);
    // The project install builds zstd-napi's binding from source when no prebuilt binary can be
    // downloaded (an offline machine): tens of seconds on two busy cores.
  }, 600_000);
});
