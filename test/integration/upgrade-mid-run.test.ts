import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';

// drctl loads a command's code, and each adapter's, only when it needs it. `npm i -g drctl`
// replaces the whole package directory: a command that runs through an upgrade finds the files
// it has not loaded yet gone. That must read as what it is, in the step and in one line, never
// as an internal error with a stack.

const REPO = path.resolve(import.meta.dirname, '..', '..');

function run(pkg: string, args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [path.join(pkg, 'dist', 'cli.js'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', DRCTL_STATE_DIR: path.join(cwd, 'state') },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, all: r.stdout + r.stderr };
}

describe('drctl upgraded or removed while a command runs', () => {
  let root: string;
  let pkg: string;

  beforeAll(() => {
    root = tempDir('drctl-upgrade-');
    pkg = path.join(root, 'pkg');
    // An installation of its own, to take apart: package.json, dist/, runbooks/, the packages.
    for (const f of ['package.json', 'dist', 'runbooks']) cpSync(path.join(REPO, f), path.join(pkg, f), { recursive: true });
    symlinkSync(path.join(REPO, 'node_modules'), path.join(pkg, 'node_modules'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a step that needs code removed since the run started fails with a line that says so, and the run is failed', () => {
    const rb = path.join(root, 'mid-run.yaml');
    writeFileSync(
      rb,
      [
        'apiVersion: drctl/v1',
        'name: upgrade-mid-run',
        'steps:',
        '  - id: upgrade',
        '    uses: shell.run',
        // What npm does to the old version: its files are gone.
        `    with: { command: "rm -r ${path.join(pkg, 'dist')}" }`,
        '  - id: ping',
        '    uses: postgres.ping',
        // Never reached: the PostgreSQL client's code is loaded first, and it is gone.
        '    with: { url: "postgres://u:Canary-pw-8812@127.0.0.1:1/x" }',
      ].join('\n'),
    );
    const r = run(pkg, ['--log-format', 'json', 'run', rb], root);
    expect(existsSync(path.join(pkg, 'dist'))).toBe(false);
    expect(r.code, r.all).toBe(1);
    const events = r.all
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event?: string; step?: string; status?: string; reason?: string });
    const ping = events.find((e) => e.event === 'step.end' && e.step === 'ping');
    expect(ping?.status).toBe('failed');
    expect(ping?.reason).toMatch(/^drctl's installation is missing \S+\/dist\/chunks\/\S+\.js, .*upgraded or removed while the command ran/);
    expect(events.find((e) => e.event === 'run.end')?.status).toBe('failed');
    expect(r.all).not.toMatch(/internal error|\n\s+at /);
    expect(r.all).not.toContain('Canary-pw-8812');
  });

  it('a command whose code is missing at start is one line and exit 1', () => {
    cpSync(path.join(REPO, 'dist'), path.join(pkg, 'dist'), { recursive: true });
    const chunk = readdirSync(path.join(pkg, 'dist', 'chunks')).find((f) => /^validate-\w+\.js$/.test(f));
    expect(chunk).toBeDefined();
    rmSync(path.join(pkg, 'dist', 'chunks', chunk!));
    writeFileSync(path.join(root, 'ok.yaml'), ['apiVersion: drctl/v1', 'name: ok', 'steps:', '  - id: hi', '    uses: shell.run', '    with: { command: "true" }'].join('\n'));
    const r = run(pkg, ['validate', path.join(root, 'ok.yaml')], root);
    expect(r.code, r.all).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^drctl: drctl's installation is missing \\S+/dist/chunks/${chunk!.replace('.', '\\.')}, `));
  });

  it('wal-fetch whose code is gone exits 255, never 1: PostgreSQL would take 1 for the end of the archive and promote', async () => {
    rmSync(path.join(pkg, 'dist'), { recursive: true, force: true });
    cpSync(path.join(REPO, 'dist'), path.join(pkg, 'dist'), { recursive: true });
    for (const f of readdirSync(path.join(pkg, 'dist', 'chunks')).filter((n) => /^wal-(fast|run)-\w+\.js$/.test(n))) rmSync(path.join(pkg, 'dist', 'chunks', f));
    const args = ['wal-fetch', '000000010000000000000001', path.join(root, 'seg'), '--repo', `file://${root}/repo`];
    const r = run(pkg, args, root);
    expect(r.code, r.all).toBe(255);
    expect(r.stderr).toMatch(/^drctl: drctl's installation is missing \S+\/dist\/chunks\/wal-fast-\w+\.js, [^\n]*\n$/);
    // Under a standby it asks again instead.
    const standby = path.join(root, 'standby');
    mkdirSync(standby);
    writeFileSync(path.join(standby, 'standby.signal'), '');
    expect(run(pkg, args, standby).code).toBe(1);
  });
});
