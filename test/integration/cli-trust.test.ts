import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { CLI, drctl, tempDir, type CliResult } from '../support/cli.js';

// What the operator typed is what runs, and what drctl reports is true: built-in runbooks,
// --dry-run, flag values and combinations, health with nothing configured, verdicts of failed
// runs. None of these needs a server: each is decided before or without touching one.

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);
/** One line on stderr, exit 2, naming what was wrong. */
function refused(r: CliResult, ...named: (string | RegExp)[]) {
  expect(r.code, r.all).toBe(2);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  for (const n of named) expect(r.stderr).toMatch(n);
  noStack(r.all);
}
/** The environment of a machine on which nothing is configured. */
const EMPTY = { DATABASE_URL: undefined, REDIS_URL: undefined, HEALTH_URL: undefined, TWILIO_ACCOUNT_SID: undefined, VAPI_API_KEY: undefined, DRCTL_REPO: undefined, PGHOST: undefined, PGDATABASE: undefined };

/** A runbook that declares the given inputs and touches a marker file when it runs. */
function marking(dir: string, name: string, inputs: string[]): { file: string; marker: string } {
  const marker = path.join(dir, `${name}.ran`);
  const file = path.join(dir, 'runbooks', `${name}.yaml`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    `apiVersion: drctl/v1\nname: ${name}\ninputs:\n${inputs.map((i) => `  ${i}: {}\n`).join('')}steps:\n  - id: mark\n    uses: shell.run\n    with: { command: "touch ${marker}" }\n`,
  );
  return { file, marker };
}

describe('built-in commands run the shipped runbooks', () => {
  const RESTORE_INPUTS = ['backup', 'target', 'repo', 'jobs', 'clean', 'noOwner', 'schema', 'table'];

  it('a runbooks/restore.yaml in the working directory does not replace drctl restore', async () => {
    const cwd = tempDir();
    const bogus = marking(cwd, 'restore', RESTORE_INPUTS);
    const dry = await drctl(['--dry-run', 'restore', '--target', 'postgres://app@127.0.0.1:1/app'], { cwd });
    expect(dry.code, dry.all).toBe(0);
    expect(dry.stdout).toContain('restore (postgres.restore)');
    expect(dry.stdout).not.toContain('shell.run');
    const health = marking(cwd, 'health', []);
    const r = await drctl(['health'], { cwd, env: EMPTY });
    expect(r.code, r.all).toBe(2);
    expect(existsSync(health.marker)).toBe(false);
    expect(existsSync(bogus.marker)).toBe(false);
  });

  it('--runbook and drctl.yaml runbooks: replace a built-in runbook, and say so on stderr', async () => {
    const cwd = tempDir();
    const mine = marking(cwd, 'my-restore', RESTORE_INPUTS);
    const flag = await drctl(['restore', '--target', 'postgres://app@127.0.0.1:1/app', '--runbook', mine.file], { cwd });
    expect(flag.code, flag.all).toBe(0);
    expect(existsSync(mine.marker)).toBe(true);
    expect(flag.stderr).toContain(`using runbook ${mine.file} instead of the built-in restore`);

    const other = tempDir();
    const fromConfig = marking(other, 'backup-elsewhere', ['source', 'repo', 'type', 'label']);
    writeFileSync(path.join(other, 'drctl.yaml'), 'runbooks:\n  backup: runbooks/backup-elsewhere.yaml\n');
    const cfg = await drctl(['backup', '--source', 'postgres://app@127.0.0.1:1/app'], { cwd: other });
    expect(cfg.code, cfg.all).toBe(0);
    expect(existsSync(fromConfig.marker)).toBe(true);
    expect(cfg.stderr).toContain(`using runbook ${fromConfig.file} instead of the built-in backup`);

    refused(await drctl(['restore', '--target', 'postgres://app@127.0.0.1:1/app', '--runbook', path.join(cwd, 'nope.yaml')], { cwd }), '--runbook', 'no such file');
    // A replacement must take the inputs the command's flags set.
    const narrow = marking(cwd, 'narrow', ['target']);
    const n = await drctl(['restore', '--target', 'postgres://app@127.0.0.1:1/app', '--runbook', narrow.file], { cwd });
    expect(n.code, n.all).toBe(2);
    expect(n.stderr.trim().split('\n').at(-1)).toBe(`drctl: ${narrow.file}: no input "backup", which this command sets from its flags (declare it under inputs:)`);
    expect(existsSync(narrow.marker)).toBe(false);
  });
});

describe('--dry-run is honoured or refused', () => {
  it('backups expire --confirm under --dry-run deletes nothing', async () => {
    const dir = tempDir();
    const repoDir = path.join(dir, 'repo');
    const env = { DRCTL_ENCRYPTION_KEY: 'dry-run test key', DRCTL_REPO: `file://${repoDir}` };
    writeFileSync(path.join(dir, '.env'), 'A=1\n');
    for (const label of ['one', 'two']) {
      const b = await drctl(['run', 'env-backup', '--var', `file=${path.join(dir, '.env')}`], { env });
      expect(b.code, `${label}: ${b.all}`).toBe(0);
    }
    const ids = () => readdirSync(path.join(repoDir, 'backups')).sort();
    const before = ids();
    expect(before).toHaveLength(2);
    const dry = await drctl(['--dry-run', 'backups', 'expire', '--keep-last', '1', '--confirm'], { env });
    expect(dry.code, dry.all).toBe(0);
    expect(dry.stdout).toContain(`would remove ${before[0]}`);
    expect(dry.stdout).toContain('dry run: nothing removed');
    expect(ids()).toEqual(before);
    // The same command without --dry-run does delete: the check above could fail.
    const real = await drctl(['backups', 'expire', '--keep-last', '1', '--confirm'], { env });
    expect(real.code, real.all).toBe(0);
    expect(ids()).toEqual([before[1]]);
  });

  it('wal-push and wal-fetch under --dry-run exit 2 naming the command, and archive nothing', async () => {
    const dir = tempDir();
    const repoDir = path.join(dir, 'repo');
    const seg = path.join(dir, '000000010000000000000001');
    writeFileSync(seg, Buffer.alloc(16 * 1024 * 1024, 1));
    refused(await drctl(['--dry-run', 'wal-push', seg, '--repo', `file://${repoDir}`]), /--dry-run: wal-push /);
    refused(await drctl(['wal-push', seg, '--dry-run'], { env: { DRCTL_REPO: `file://${repoDir}` } }), /--dry-run: wal-push /);
    expect(existsSync(repoDir)).toBe(false);
    // restore_command with a flag it cannot take is misconfigured: 255 stops a recovery, where
    // 2 would read as "not archived" and end it.
    const fetch = await drctl(['--dry-run', 'wal-fetch', '000000010000000000000001', path.join(dir, 'out'), '--repo', `file://${repoDir}`]);
    expect(fetch.code, fetch.all).toBe(255);
    expect(fetch.stderr).toMatch(/^drctl: --dry-run: wal-fetch [^\n]*\n$/);
    expect(existsSync(path.join(dir, 'out'))).toBe(false);
  });

  it('read-only commands and runbook commands accept --dry-run', async () => {
    expect((await drctl(['--dry-run', 'history'])).code).toBe(0);
    expect((await drctl(['--dry-run', 'schema'])).code).toBe(0);
    const dry = await drctl(['--dry-run', 'verify-backups', '--repo', `file://${tempDir()}`]);
    expect(dry.code, dry.all).toBe(0);
    expect(dry.stdout).toContain('DRY RUN');
  });
});

describe('flags: a bad value or one that cannot apply is exit 2 naming the flag', () => {
  const pg = 'postgres://app@127.0.0.1:1/app';
  const cases: [string, string[], (string | RegExp)[]][] = [
    ['--size-band above 1', ['verify-backups', '--repo', 'file:///nonexistent/r', '--size-band', '2'], ['--size-band 2', 'from 0 to 1']],
    ['--row-tolerance not a number', ['verify-backups', '--repo', 'file:///nonexistent/r', '--row-tolerance', 'ten'], ['--row-tolerance ten']],
    ['--port out of range', ['restore', '--target-dir', '/nonexistent/d', '--start', '--port', '99999'], ['--port 99999', '1 to 65535']],
    ['--jobs 0', ['restore', '--target', pg, '--jobs', '0'], ['--jobs 0']],
    ['--keep-last -1', ['backups', 'expire', '--repo', 'file:///nonexistent/r', '--keep-last', '-1'], ['--keep-last -1']],
    ['--keep-last 0 (keeps none)', ['backups', 'expire', '--repo', 'file:///nonexistent/r', '--keep-last', '0'], ['--keep-last 0', 'at least 1']],
    ['--timeline 0', ['restore', '--target-dir', '/nonexistent/d', '--timeline', '0'], ['--timeline 0']],
    ['--table with --target-dir', ['restore', '--target-dir', '/nonexistent/d', '--table', 'orders'], ['--table', '--target-dir']],
    ['--schema, --jobs, --clean with --pitr', ['restore', '--target-dir', '/nonexistent/d', '--pitr', 'latest', '--schema', 's', '--jobs', '2', '--clean'], ['--schema, --jobs, --clean:']],
    ['--port without --start', ['restore', '--target-dir', '/nonexistent/d', '--port', '5433'], ['--port needs --start']],
    ['--pitr with --target', ['restore', '--target', pg, '--pitr', '10 minutes ago'], ['--pitr needs --target-dir', '--target']],
    ['--start and --timeline with --target', ['restore', '--target', pg, '--start', '--timeline', '2'], ['--timeline, --start:', '--target']],
    ['--scratch URL without --test-restore', ['verify-backups', '--repo', 'file:///nonexistent/r', '--scratch', pg], ['--scratch needs --test-restore']],
    ['--scratch that is no URL', ['verify-backups', '--repo', 'file:///nonexistent/r', '--test-restore', '--scratch', 'elsewhere'], ['--scratch']],
    ['--source that is no PostgreSQL URL', ['backup', '--source', 'mysql://db/app', '--repo', 'file:///nonexistent/r'], ['--source']],
    ['an impossible --pitr date', ['restore', '--target-dir', '/nonexistent/d', '--pitr', '2026-02-30T09:41:00Z'], ['--pitr', 'February 2026 has 28 days']],
    ['an impossible --pitr hour', ['restore', '--target-dir', '/nonexistent/d', '--pitr', '2026-11-23T25:00:00Z'], ['--pitr', 'hour 25']],
  ];
  for (const [title, args, named] of cases) {
    it(title, async () => refused(await drctl(args), ...named));
  }
});

describe('drctl health with nothing configured', () => {
  it('exits 2 naming what it could check; every check shows as skipped, none as ok', async () => {
    const r = await drctl(['health', '--json'], { env: EMPTY });
    expect(r.code, r.all).toBe(2);
    const out = JSON.parse(r.stdout) as { ok: boolean; checks: { service: string; status: string; figure: string }[] };
    expect(out.ok).toBe(false);
    expect(out.checks.map((c) => c.status)).toEqual(out.checks.map(() => 'skipped'));
    expect(out.checks.find((c) => c.service === 'PostgreSQL')?.figure).toBe('not configured (set DATABASE_URL or source: in drctl.yaml or --var database=...)');
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'HEALTH_URL', 'TWILIO_ACCOUNT_SID', 'VAPI_API_KEY', 'DRCTL_REPO', 'repo: in drctl.yaml']) expect(r.stderr).toContain(name);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^drctl: health: nothing was checked; configure at least one of: /);
  });

  it('checks what drctl.yaml configures', async () => {
    const cwd = tempDir();
    const repoDir = path.join(cwd, 'repo');
    mkdirSync(repoDir);
    writeFileSync(path.join(cwd, 'drctl.yaml'), `repo: file://${repoDir}\n`);
    const r = await drctl(['health', '--json'], { cwd, env: EMPTY });
    expect(r.code, r.all).toBe(1);
    const checks = JSON.parse(r.stdout).checks as { service: string; status: string; figure: string }[];
    expect(checks.find((c) => c.service === 'Backups')).toMatchObject({ status: 'FAIL' });
    expect(checks.filter((c) => c.status === 'skipped')).toHaveLength(checks.length - 1);
  });
});

describe('Ctrl-C at a confirmation prompt', () => {
  it('is a no: exit 4, declined, not retried as a failed step', () => {
    const dir = tempDir();
    const rb = path.join(dir, 'ask.yaml');
    writeFileSync(rb, 'apiVersion: drctl/v1\nname: ask\nsteps:\n  - id: ok\n    uses: manual.confirm\n    with: { message: "Drop it?" }\n    retries: { attempts: 3, backoff: 10ms }\n');
    // A terminal: the prompt needs one, and Ctrl-C reaches drctl as a keystroke there.
    const pty = [
      'import os, pty, select, sys, time',
      'pid, fd = pty.fork()',
      'if pid == 0:',
      '    os.execv(sys.argv[1], sys.argv[1:])',
      'out, sent, end = b"", 0, time.time() + 30',
      'while time.time() < end:',
      '    if select.select([fd], [], [], 0.2)[0]:',
      '        try: d = os.read(fd, 4096)',
      '        except OSError: break',
      '        if not d: break',
      '        out += d',
      '        if out.count(b"[y/N]") > sent: os.write(fd, b"\\x03"); sent += 1',
      'status = os.waitpid(pid, 0)[1]',
      'sys.stdout.write(out.decode(errors="replace") + "\\nprompts=%d exit=%d\\n" % (sent, os.waitstatus_to_exitcode(status)))',
    ].join('\n');
    const r = spawnSync('python3', ['-c', pty, process.execPath, CLI, '--log-format', 'pretty', '--no-color', 'run', rb], { encoding: 'utf8', env: { ...process.env, DRCTL_STATE_DIR: path.join(dir, 'state') }, timeout: 60_000 });
    expect(r.stdout).toContain('prompts=1 exit=4\n');
    expect(r.stdout).toContain('DECLINED ask');
  });
});

describe('a resumed recovery', () => {
  it('run --from-step is timed from the disaster the first run saw, not from the resume', async () => {
    const dir = tempDir();
    const rb = path.join(dir, 'r.yaml');
    writeFileSync(
      rb,
      'apiVersion: drctl/v1\nname: r\ntargets: { rto: 1s }\ninputs: { ok: { default: "no" } }\nsteps:\n' +
        '  - id: outage\n    uses: shell.run\n    with: { command: "true" }\n    disaster: true\n' +
        '  - id: restore\n    uses: shell.run\n    with: { command: "sleep 1.2" }\n' +
        '  - id: switch\n    uses: shell.run\n    with: { command: "test ${inputs.ok} = yes" }\n    recovered: true\n',
    );
    const env = { DRCTL_STATE_DIR: path.join(dir, 'state') };
    const first = await drctl(['--log-format', 'pretty', 'run', rb], { env });
    expect(first.code, first.all).toBe(1);
    const resumed = await drctl(['--log-format', 'pretty', 'run', rb, '--from-step', 'switch', '--var', 'ok=yes'], { env });
    // The resume itself takes milliseconds; the recovery took the first run's 1.2 s restore and more.
    expect(resumed.code, resumed.all).toBe(3);
    expect(resumed.stderr).toMatch(/RTO: \d+\.\ds against 1\.0s — MISSED/);
  });
});

describe('a drill whose repository cannot keep its history', () => {
  it('still writes its reports and keeps its exit code; a URL that names no repository is not made one', async () => {
    const dir = tempDir();
    const repoDir = path.join(dir, 'repo');
    expect((await drctl(['repo', 'init', '--repo', `file://${repoDir}`])).code).toBe(0);
    // A listing of history/runs/ that fails (ELOOP), as a store that is down or refuses would.
    mkdirSync(path.join(repoDir, 'history', 'runs'), { recursive: true });
    symlinkSync('loop', path.join(repoDir, 'history', 'runs', 'loop'));
    const rb = path.join(dir, 'd.yaml');
    writeFileSync(rb, 'apiVersion: drctl/v1\nname: d\ntargets: { rto: 1ms }\nsteps:\n  - id: restore\n    uses: shell.run\n    with: { command: "sleep 0.05" }\n    recovered: true\n');
    const reports = ['d.xml', 'd.json'].map((f) => path.join(dir, f));
    const env = { DRCTL_STATE_DIR: path.join(dir, 'state') };
    const r = await drctl(['drill', rb, '--repo', `file://${repoDir}`, ...reports.flatMap((f) => ['--report', f])], { env });
    expect(r.code, r.all).toBe(3);
    expect(r.stderr).toContain(`warning: drill history not kept in file://${repoDir}:`);
    expect(r.all).not.toContain('internal error');
    for (const f of reports) expect(existsSync(f), f).toBe(true);

    const nowhere = path.join(dir, 'no-repo-here');
    const n = await drctl(['drill', rb, '--repo', `file://${nowhere}`], { env });
    expect(n.code, n.all).toBe(3);
    expect(n.stderr).toContain(`warning: drill history not kept in file://${nowhere}: `);
    expect(existsSync(nowhere)).toBe(false);
  });
});

describe('a failed run never reports a target as met', () => {
  it('a recovery step that failed without failing the run (critical: false) is "not recovered", exit 3; one its if skipped counts the run’s end', async () => {
    const dir = tempDir();
    const drill = async (name: string, step: string) => {
      const rb = path.join(dir, `${name}.yaml`);
      writeFileSync(rb, `apiVersion: drctl/v1\nname: ${name}\ntargets: { rto: 1h }\nsteps:\n  - id: restore\n    uses: shell.run\n    with: { command: "true" }\n  - id: verify\n    uses: shell.run\n${step}    recovered: true\n`);
      const report = path.join(dir, `${name}.json`);
      const r = await drctl(['--log-format', 'pretty', 'drill', rb, '--report', report], { env: { DRCTL_STATE_DIR: path.join(dir, 'state') } });
      return { r, json: JSON.parse(readFileSync(report, 'utf8')) as { measured: { recovered: boolean }; verdicts: unknown[] } };
    };
    const failed = await drill('noncritical', '    with: { command: "exit 1" }\n    critical: false\n');
    expect(failed.r.code, failed.r.all).toBe(3);
    expect(failed.r.stderr).toContain('RTO: not recovered (target 1h00m)');
    expect(failed.r.all).not.toMatch(/— met/);
    expect(failed.json.measured.recovered).toBe(false);
    expect(failed.json.verdicts).toEqual([{ name: 'rto', targetMs: 3_600_000, met: false, notRecovered: true }]);

    // An optional verification the runbook turned off: recovered when the run ended.
    const skipped = await drill('skipped', '    if: "false"\n    with: { command: "true" }\n');
    expect(skipped.r.code, skipped.r.all).toBe(0);
    expect(skipped.json.measured.recovered).toBe(true);
    expect(skipped.r.stderr).toMatch(/RTO: \S+ against 1h00m — met/);

    // Skipped because the restore before it failed (not critical): nothing was recovered.
    const rb = path.join(dir, 'after-failure.yaml');
    writeFileSync(rb, 'apiVersion: drctl/v1\nname: after-failure\ntargets: { rto: 1h }\nsteps:\n  - id: restore\n    uses: shell.run\n    with: { command: "exit 1" }\n    critical: false\n  - id: verify\n    uses: shell.run\n    if: "steps.restore.status == \'succeeded\'"\n    with: { command: "true" }\n    recovered: true\n');
    const after = await drctl(['--log-format', 'pretty', 'drill', rb], { env: { DRCTL_STATE_DIR: path.join(dir, 'state') } });
    expect(after.code, after.all).toBe(3);
    expect(after.stderr).toContain('RTO: not recovered (target 1h00m)');
  });

  it('RTO is "not recovered" in the terminal, JSON, Markdown, JUnit, history and the drill comparison', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state');
    const rb = path.join(dir, 'restore-fails.yaml');
    writeFileSync(
      rb,
      'apiVersion: drctl/v1\nname: restore-fails\ntargets: { rto: 1h, rpo: 5m }\nsteps:\n  - id: restore\n    uses: shell.run\n    with: { command: "echo restore failed >&2; exit 3" }\n    recovered: true\n',
    );
    const reports = ['r.json', 'r.md', 'r.xml'].map((f) => path.join(dir, f));
    const run = await drctl(['--log-format', 'pretty', 'drill', rb, ...reports.flatMap((f) => ['--report', f])], { env: { DRCTL_STATE_DIR: state } });
    expect(run.code, run.all).toBe(1);
    expect(run.stderr).toContain('RTO: not recovered (target 1h00m)');
    expect(run.stderr).toContain('RPO: not recovered (target 5m00s)');
    expect(run.stderr).not.toMatch(/— met/);
    expect(run.stdout).toMatch(/\(this drill\)\s+not recovered\s+-\s+restore \S+\s+FAILED/);

    const json = JSON.parse(readFileSync(reports[0]!, 'utf8'));
    expect(json.measured.recovered).toBe(false);
    expect(json.measured.rtoMs).toBeUndefined();
    expect(json.verdicts).toEqual([
      { name: 'rto', targetMs: 3_600_000, met: false, notRecovered: true },
      { name: 'rpo', targetMs: 300_000, met: false, notRecovered: true },
    ]);
    const md = readFileSync(reports[1]!, 'utf8');
    expect(md).toContain('| RTO | 1h00m | not recovered | **not recovered** |');
    expect(md).not.toMatch(/\| met \|/);
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(readFileSync(reports[2]!, 'utf8'));
    const rto = xml.testsuites.testsuite.testcase.find((c: { name: string }) => c.name === 'RTO');
    expect(rto.failure.type).toBe('rto');
    expect(rto.failure.message).toContain('nothing was recovered');

    const hist = await drctl(['history'], { env: { DRCTL_STATE_DIR: state } });
    expect(hist.stdout).toMatch(/restore-fails\s+drill\s+failed\s+\S+\s+NOT RECOVERED \(1h00m\)/);
    const again = await drctl(['drill', rb], { env: { DRCTL_STATE_DIR: state } });
    expect(again.code).toBe(1);
    expect(again.stdout.trim().split('\n').slice(-2).every((l) => /not recovered/.test(l))).toBe(true);
  });

  it('a run that succeeds within its RTO is still "met"', async () => {
    const dir = tempDir();
    const rb = path.join(dir, 'ok.yaml');
    writeFileSync(rb, 'apiVersion: drctl/v1\nname: ok\ntargets: { rto: 1h }\nsteps:\n  - id: a\n    uses: shell.run\n    with: { command: "true" }\n');
    const r = await drctl(['--log-format', 'pretty', 'run', rb, '--report', path.join(dir, 'r.json')], { env: { DRCTL_STATE_DIR: path.join(dir, 'state') } });
    expect(r.code, r.all).toBe(0);
    expect(r.stderr).toMatch(/RTO: \S+ against 1h00m — met/);
    expect(JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8')).measured.recovered).toBe(true);
  });
});

describe('relative times are resolved once per run', () => {
  it('every step and the report see the same instant for "2 minutes ago", printed before the run', async () => {
    const dir = tempDir();
    // The instant is printed to the millisecond: a 10 ms pause between the steps is enough for
    // a second reading of the clock to show.
    const rb = path.join(dir, 'at.yaml');
    writeFileSync(
      rb,
      [
        'apiVersion: drctl/v1',
        'name: at',
        'inputs: { at: { type: time, required: true } }',
        'steps:',
        '  - id: first',
        '    uses: shell.run',
        '    with: { command: "echo ${inputs.at}" }',
        '  - id: pause',
        '    uses: shell.run',
        '    with: { command: "sleep 0.01" }',
        '  - id: second',
        '    uses: shell.run',
        '    with: { command: "echo ${inputs.at}" }',
      ].join('\n'),
    );
    const out = path.join(dir, 'r.json');
    const r = await drctl(['run', rb, '--var', 'at=2 minutes ago', '--report', out]);
    expect(r.code, r.all).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    const at = report.inputs.at as string;
    expect(at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(Date.parse(report.startedAt) - Date.parse(at)).toBe(120_000);
    expect(report.steps[0].outputs.stdout.trim()).toBe(at);
    expect(report.steps[2].outputs.stdout.trim()).toBe(at);
    expect(r.stderr).toContain(`at: "2 minutes ago" is ${at} (UTC)`);
    refused(await drctl(['run', rb, '--var', 'at=2026-02-29T10:00:00Z']), '--var at', 'February 2026 has 28 days');
  });
});
