import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';

// Cron and CI ergonomics through the real CLI: --quiet, progress lines off a TTY, --json
// documents, colours, config discovery and `drctl config`, missing runbook inputs.

const ESC = '\u001b[';

function runbook(dir: string, name: string, body: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, `apiVersion: drctl/v1\nname: ${name}\n${body}`);
  return file;
}

describe('--quiet', () => {
  it('prints nothing on success, exit 0; the same run without it does print', async () => {
    const dir = tempDir();
    const rb = runbook(dir, 'ok', 'steps:\n  - id: hello\n    uses: shell.run\n    with: { command: "echo hello" }\n');
    const quiet = await drctl(['-q', 'run', rb]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.all).toBe('');
    expect((await drctl(['run', rb, '--quiet'])).all).toBe('');
    const loud = await drctl(['run', rb]);
    expect(loud.code).toBe(0);
    expect(loud.stderr).toContain('"step":"hello"');
  });

  it('prints the failures on failure, with the exit code unchanged', async () => {
    const dir = tempDir();
    const rb = runbook(
      dir,
      'bad',
      'steps:\n  - id: fine\n    uses: shell.run\n    with: { command: "echo fine" }\n  - id: broken\n    uses: shell.run\n    with: { command: "echo disk full >&2; exit 3" }\n',
    );
    const r = await drctl(['-q', 'run', rb]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^FAILED bad in .* \(exit 1\)\n/);
    expect(r.stderr).toContain('  broken failed: command exited with 3: disk full\n');
    expect(r.stderr).not.toContain('fine');
    expect(r.stderr).not.toContain('{"');
  });
});

describe('progress off a TTY', () => {
  // The step waits for a file the test creates only once drctl has logged a progress line, so
  // the test synchronises on the line itself, not on how long anything takes.
  const waiting = (dir: string) =>
    runbook(dir, 'slow', 'inputs:\n  flag: { required: true }\nsteps:\n  - id: wait-for-flag\n    uses: shell.run\n    with: { command: "while [ ! -e ${inputs.flag} ]; do sleep 0.05; done" }\n');

  async function runUntilProgress(args: string[], seen: (line: string) => boolean) {
    const dir = tempDir();
    const flag = path.join(dir, 'flag');
    let lines = 0;
    const r = await drctl([...args, 'run', waiting(dir), '--var', `flag=${flag}`], {
      env: { DRCTL_PROGRESS_INTERVAL: '100ms' },
      timeoutMs: 60_000,
      onSpawn: (child) => {
        let buf = '';
        child.stderr?.on('data', (d: Buffer) => {
          buf += d.toString();
          const parts = buf.split('\n');
          buf = parts.pop() ?? '';
          for (const line of parts) {
            if (seen(line)) {
              lines++;
              if (!existsSync(flag)) writeFileSync(flag, '');
            }
          }
        });
      },
    });
    return { r, lines };
  }

  it('JSON logs: a running step logs an info line every interval', async () => {
    const isTick = (line: string) => {
      if (!line.startsWith('{')) return false;
      const j = JSON.parse(line) as { event?: string; level?: number; step?: string };
      return j.event === 'step.running' && j.step === 'wait-for-flag' && j.level === 30;
    };
    const { r, lines } = await runUntilProgress([], isTick);
    expect(r.code, r.stderr).toBe(0);
    expect(lines).toBeGreaterThanOrEqual(1);
    const tick = JSON.parse(r.stderr.split('\n').find(isTick)!);
    expect(tick.msg).toMatch(/^step wait-for-flag running \d/);
    expect(tick.elapsedMs).toBeGreaterThan(0);
  });

  it('pretty output off a TTY: a progress line too', async () => {
    const { r, lines } = await runUntilProgress(['--log-format', 'pretty'], (l) => /… wait-for-flag\s+running \d/.test(l));
    expect(r.code, r.stderr).toBe(0);
    expect(lines).toBeGreaterThanOrEqual(1);
  });

  it('--quiet has no progress lines', async () => {
    const dir = tempDir();
    const rb = runbook(dir, 'pause', 'steps:\n  - id: pause\n    uses: shell.run\n    with: { command: "sleep 0.5" }\n');
    const r = await drctl(['-q', 'run', rb], { env: { DRCTL_PROGRESS_INTERVAL: '50ms' } });
    expect(r.code).toBe(0);
    expect(r.all).toBe('');
  });
});

describe('colours', () => {
  const rb = () => runbook(tempDir(), 'c', 'steps:\n  - id: hello\n    uses: shell.run\n    with: { command: "true" }\n');
  it('FORCE_COLOR colours pretty output off a TTY; NO_COLOR, --no-color and FORCE_COLOR=0 win; TERM=dumb stays plain', async () => {
    const file = rb();
    const run = (env: Record<string, string | undefined>, ...flags: string[]) => drctl(['--log-format', 'pretty', ...flags, 'run', file], { env: { NO_COLOR: undefined, FORCE_COLOR: undefined, ...env } });
    const forced = await run({ FORCE_COLOR: '1' });
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain(ESC);
    expect(forced.stderr).toContain('hello');
    expect((await run({ FORCE_COLOR: '1', NO_COLOR: '1' })).stderr).not.toContain(ESC);
    expect((await run({ FORCE_COLOR: '1' }, '--no-color')).stderr).not.toContain(ESC);
    expect((await run({ FORCE_COLOR: '0' })).stderr).not.toContain(ESC);
    expect((await run({ TERM: 'dumb' })).stderr).not.toContain(ESC);
    expect((await run({})).stderr).not.toContain(ESC);
  });
});

describe('runbook inputs', () => {
  const body =
    'inputs:\n  target: { required: true, default: "${env.DRILL_TARGET_URL}" }\n  dataDir: { required: true }\n  label: { default: nightly }\n' +
    'steps:\n  - id: ping\n    uses: postgres.ping\n    with: { url: "${inputs.target}" }\n  - id: touch\n    uses: shell.run\n    with: { command: "touch ${inputs.dataDir}/x" }\n';

  it('plan marks missing required inputs and the steps that rest on them', async () => {
    const file = runbook(tempDir(), 'needs-two', body);
    const r = await drctl(['plan', file], { env: { DRILL_TARGET_URL: undefined } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('target=<missing: inputs.target>');
    expect(r.stdout).toContain('MISSING required inputs: target, dataDir');
    expect(r.stdout).toContain('--var target=... (or set DRILL_TARGET_URL)');
    // postgres.ping's own description would read "connect to PostgreSQL": the value is named beside it.
    expect(r.stdout).toMatch(/1\. ping \(postgres\.ping\)\n.*\n\s+unresolved: url=<missing: inputs\.target>/);
    expect(r.stdout).toMatch(/unresolved: command=.*<missing: inputs\.dataDir>/);
    const j = JSON.parse((await drctl(['plan', file, '--json'], { env: { DRILL_TARGET_URL: undefined } })).stdout);
    expect(j.missingInputs).toEqual([{ name: 'target', env: 'DRILL_TARGET_URL' }, { name: 'dataDir' }]);
    expect(j.inputs.target).toBe('<missing: inputs.target>');
    expect(j.steps[0].unresolved).toEqual(['url=<missing: inputs.target>']);

    const given = await drctl(['plan', file, '--var', 'dataDir=/srv/x'], { env: { DRILL_TARGET_URL: 'postgres://u@h/db' } });
    expect(given.stdout).not.toContain('missing');
    expect(given.stdout).not.toContain('unresolved');
  });

  it('drill and run name every missing input in one exit-2 line', async () => {
    const file = runbook(tempDir(), 'needs-two', body);
    for (const cmd of ['drill', 'run']) {
      const r = await drctl([cmd, file], { env: { DRILL_TARGET_URL: undefined } });
      expect(r.code, cmd).toBe(2);
      expect(r.stderr).toBe('drctl: inputs "target", "dataDir" are required: pass --var target=... (or set DRILL_TARGET_URL), --var dataDir=...\n');
    }
  });
});

describe('configuration discovery', () => {
  // Every location holds a config naming a different repository; `drctl config --json` says
  // which one won. The system directory is moved with DRCTL_SYSCONF_DIR: the real /etc is never touched.
  function layout() {
    const root = tempDir();
    const dirs = { cwd: path.join(root, 'work'), home: path.join(root, 'home'), xdg: path.join(root, 'xdg'), sys: path.join(root, 'etc-drctl'), named: path.join(root, 'named') };
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
    const files = {
      named: path.join(dirs.named, 'explicit.yaml'),
      env: path.join(dirs.named, 'from-env.yaml'),
      cwd: path.join(dirs.cwd, 'drctl.yaml'),
      xdg: path.join(dirs.xdg, 'drctl', 'config.yaml'),
      home: path.join(dirs.home, '.config', 'drctl', 'config.yaml'),
      sys: path.join(dirs.sys, 'drctl.yaml'),
    };
    for (const [name, f] of Object.entries(files)) {
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, `repo: file:///repos/${name}\n`);
    }
    return { dirs, files };
  }

  const effective = async (l: ReturnType<typeof layout>, env: Record<string, string | undefined>, args: string[] = []) => {
    const r = await drctl([...args, 'config', '--json'], { cwd: l.dirs.cwd, env: { HOME: l.dirs.home, XDG_CONFIG_HOME: l.dirs.xdg, DRCTL_SYSCONF_DIR: l.dirs.sys, DRCTL_CONFIG: undefined, DRCTL_REPO: undefined, ...env } });
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { configFile: { path: string | null; from: string }; settings: Record<string, { value: unknown; from: string }> };
  };

  it('--config, then DRCTL_CONFIG, ./drctl.yaml, $XDG_CONFIG_HOME (default ~/.config), the system dir; first found wins', async () => {
    const l = layout();
    const { files } = l;
    let c = await effective(l, { DRCTL_CONFIG: files.env }, ['--config', files.named]);
    expect([c.configFile.path, c.configFile.from, c.settings.repo]).toEqual([files.named, '--config', { value: 'file:///repos/named', from: 'config file' }]);
    c = await effective(l, { DRCTL_CONFIG: files.env });
    expect([c.configFile.path, c.configFile.from, c.settings.repo?.value]).toEqual([files.env, 'DRCTL_CONFIG', 'file:///repos/env']);
    c = await effective(l, {});
    expect([c.configFile.path, c.configFile.from, c.settings.repo?.value]).toEqual([files.cwd, 'working directory', 'file:///repos/cwd']);
    rmFile(files.cwd);
    c = await effective(l, {});
    expect([c.configFile.path, c.configFile.from, c.settings.repo?.value]).toEqual([files.xdg, 'XDG_CONFIG_HOME', 'file:///repos/xdg']);
    c = await effective(l, { XDG_CONFIG_HOME: undefined });
    expect([c.configFile.path, c.configFile.from, c.settings.repo?.value]).toEqual([files.home, 'XDG_CONFIG_HOME', 'file:///repos/home']);
    rmFile(files.xdg);
    rmFile(files.home);
    c = await effective(l, {});
    expect([c.configFile.path, c.configFile.from, c.settings.repo?.value]).toEqual([files.sys, 'system', 'file:///repos/sys']);
    rmFile(files.sys);
    c = await effective(l, { DRCTL_REPO: 'file:///repos/from-env' });
    expect([c.configFile.path, c.configFile.from, c.settings.repo]).toEqual([null, 'none', { value: 'file:///repos/from-env', from: 'env DRCTL_REPO' }]);
  });

  it('the config file a command uses is the one discovered (a built-in command reads repo from it)', async () => {
    const l = layout();
    rmFile(l.files.cwd);
    const repoDir = tempDir('drctl-repo-');
    writeFileSync(l.files.xdg, `repo: file://${repoDir}\n`);
    const r = await drctl(['backups', 'list'], { cwd: l.dirs.cwd, env: { HOME: l.dirs.home, XDG_CONFIG_HOME: l.dirs.xdg, DRCTL_SYSCONF_DIR: l.dirs.sys, DRCTL_CONFIG: undefined, DRCTL_REPO: undefined } });
    // An empty directory is no repository yet: the refusal names the repository the user config chose.
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(`drctl: file://${repoDir}: not a drctl repository (no drctl-repo.json); drctl repo init creates one\n`);
  });

  it('an explicit config file that is missing is exit 2, one line', async () => {
    const l = layout();
    const gone = path.join(l.dirs.named, 'nope.yaml');
    for (const [args, env] of [[['--config', gone], {}], [[], { DRCTL_CONFIG: gone }]] as const) {
      const r = await drctl([...args, 'config'], { cwd: l.dirs.cwd, env: { HOME: l.dirs.home, ...env } });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^drctl: (--config |DRCTL_CONFIG=)${gone}: no such file\\n$`));
    }
  });

  it('drctl config hides secrets: canaries from the config file and the environment never appear', async () => {
    const l = layout();
    writeFileSync(l.files.cwd, 'source: postgres://app:CANARY-CFG-PW@db.internal:5432/app\nrepo: s3://bucket/prefix\ntargets: { rpo: 15m }\n');
    const env = {
      HOME: l.dirs.home,
      DRCTL_SYSCONF_DIR: l.dirs.sys,
      DATABASE_URL: 'postgres://app:CANARY-ENV-PW@db/app',
      REDIS_URL: 'redis://:CANARY-REDIS@127.0.0.1:6379',
      DRCTL_ENCRYPTION_KEY: 'CANARY-ENC-KEY',
      AWS_ACCESS_KEY_ID: 'CANARYACCESSID',
      AWS_SECRET_ACCESS_KEY: 'CANARY-AWS-SECRET',
      TWILIO_AUTH_TOKEN: 'CANARY-TWILIO',
      DRCTL_NOTIFY_WEBHOOK: 'https://hooks.example.com/services/CANARY-HOOK',
    };
    for (const args of [['config'], ['config', '--json']]) {
      const r = await drctl(args, { cwd: l.dirs.cwd, env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.all).not.toMatch(/CANARY/);
      expect(r.stdout).toContain('db.internal');
    }
    const text = (await drctl(['config'], { cwd: l.dirs.cwd, env })).stdout;
    expect(text).toMatch(/source\s+postgres:\/\/app:\*\*\*@db\.internal:5432\/app\s+config file/);
    expect(text).toMatch(/redis\s+redis:\/\/:\*\*\*@127\.0\.0\.1:6379\s+env REDIS_URL/);
    expect(text).toMatch(/encryptionKey\s+set \(hidden\)\s+env DRCTL_ENCRYPTION_KEY/);
    expect(text).toMatch(/targets\.rpo\s+15m\s+config file/);
  });
});

describe('--json on backup, restore and backups expire (real PostgreSQL)', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
    await pg.sql('create database app');
    await pg.sql('create table t (id int primary key); insert into t select generate_series(1, 250)', 'app');
  });
  afterAll(async () => destroyPostgres(pg));

  it('one JSON document on stdout each; human text on stderr; -q keeps the document', async () => {
    const repo = `file://${tempDir('drctl-repo-')}`;
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo, '--json']);
    expect(b.code, b.stderr).toBe(0);
    const bd = JSON.parse(b.stdout);
    expect(bd).toMatchObject({ ok: true, exitCode: 0, dryRun: false, runbook: 'backup', status: 'succeeded', failures: [] });
    expect(bd.backup.backupId).toMatch(/-logical$/);
    expect(bd.backup.bytes).toBeGreaterThan(0);

    const second = await drctl(['-q', 'backup', '--source', pg.url('app'), '--repo', repo, '--json']);
    expect(second.code).toBe(0);
    expect(second.stderr).toBe('');
    expect(JSON.parse(second.stdout).ok).toBe(true);

    const r = await drctl(['restore', '--backup', bd.backup.backupId, '--target', pg.url('copy'), '--repo', repo, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rd = JSON.parse(r.stdout);
    expect(rd).toMatchObject({ ok: true, runbook: 'restore', restore: { backupId: bd.backup.backupId, rowCounts: { t: 250 } } });

    const e = await drctl(['backups', 'expire', '--keep-last', '1', '--repo', repo, '--json']);
    expect(e.code, e.stderr).toBe(0);
    const ed = JSON.parse(e.stdout);
    expect(ed).toMatchObject({ dryRun: true, removed: false, remove: [{ id: bd.backup.backupId }] });
    expect(ed.keep).toHaveLength(1);
    expect(e.stderr).toContain(`would remove ${bd.backup.backupId}`);

    const done = await drctl(['backups', 'expire', '--keep-last', '1', '--repo', repo, '--json', '--confirm']);
    expect(JSON.parse(done.stdout)).toMatchObject({ dryRun: false, removed: true });
    const list = JSON.parse((await drctl(['backups', 'list', '--json', '--repo', repo])).stdout) as unknown[];
    expect(list).toHaveLength(1);

    // verify-backups -q: silent while the checks pass; the failed checks only once one fails
    // (a backup is always older than 1 ms by the time it is checked).
    const fine = await drctl(['-q', 'verify-backups', '--repo', repo, '--max-age', '1d']);
    expect(fine.code, fine.stderr).toBe(0);
    expect(fine.all).toBe('');
    const stale = await drctl(['-q', 'verify-backups', '--repo', repo, '--max-age', '1ms']);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/^check\s+status\s+figure/);
    expect(stale.stdout).toMatch(/backup-age\s+FAIL/);
    expect(stale.stdout).not.toMatch(/PASS/);
    expect(stale.stderr).toMatch(/^FAILED verify-backups in /);
  });

  it('a failed backup is a JSON document too, with the failure and exit 1', async () => {
    const repo = `file://${tempDir('drctl-repo-')}`;
    const b = await drctl(['backup', '--source', pg.url('no_such_db'), '--repo', repo, '--json']);
    expect(b.code).toBe(1);
    const d = JSON.parse(b.stdout);
    expect(d).toMatchObject({ ok: false, exitCode: 1, backup: null });
    expect(d.failures.length).toBeGreaterThan(0);
    expect(d.failures.map((f: { reason: string }) => f.reason).join(' ')).toContain('no_such_db');
  });
});

function rmFile(f: string): void {
  rmSync(f);
}
