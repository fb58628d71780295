import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';

const fixtures = path.resolve(import.meta.dirname, '..', 'fixtures', 'runbooks');
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

describe('drctl CLI contract', () => {
  it('--help and --version exit 0', async () => {
    const help = await drctl(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('validate');
    expect((await drctl(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('a bad flag, an unknown command, a missing file: one line each, exit 2, no stack trace', async () => {
    for (const args of [['run', 'x.yaml', '--bogus'], ['frobnicate'], ['run', '/nonexistent/rb.yaml'], ['validate', '/nonexistent.yaml'], ['--log-format', 'xml', 'history'], ['--report', 'out.pdf', 'history'], ['history', '--limit', 'lots']]) {
      const r = await drctl(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      noStack(r.all);
    }
    expect((await drctl(['run', '/nonexistent/rb.yaml'])).stderr).toBe('drctl: /nonexistent/rb.yaml: no such file\n');
  });

  it('--json: a command that fails before its result still prints one JSON document, with the reason and exit code', async () => {
    const dir = tempDir();
    const missing = `file://${path.join(dir, 'no-repo')}`;
    const cases: [string[], number, RegExp][] = [
      [['backups', 'expire', '--json', '--repo', missing], 1, /not a drctl repository/],
      [['backups', 'expire', '--json', '--repo', missing, '--keep-last', '0'], 2, /--keep-last 0/],
      [['backups', 'list', '--json', '--repo', 's3://key:canary-secret-7731@bucket/x'], 2, /takes no user or password/],
      [['verify-backups', '--json', '--repo', missing], 1, /not a drctl repository/],
      [['health', '--json'], 2, /nothing was checked/],
      [['backups', 'list', '--json', '--config', path.join(dir, 'missing.yaml')], 2, /missing\.yaml/],
      [['backups', 'list', '--json', '--bogus'], 2, /unknown option '--bogus'/],
      [['history', '--json', '--limit'], 2, /--limit/],
    ];
    for (const [args, code, why] of cases) {
      const r = await drctl(args, { env: { DRCTL_REPO: '', DATABASE_URL: '', REDIS_URL: '', HEALTH_URL: '' } });
      expect(r.code, args.join(' ')).toBe(code);
      const doc = JSON.parse(r.stdout);
      expect(doc.ok, args.join(' ')).toBe(false);
      expect(doc.exitCode, args.join(' ')).toBe(code);
      expect(doc.failures.map((f: { reason: string }) => f.reason).join('\n'), args.join(' ')).toMatch(why);
      expect(r.all).not.toContain('canary-secret-7731');
      noStack(r.all);
    }
    // A dry run's plan goes to stderr: stdout stays one document.
    for (const args of [['health', '--dry-run', '--json', '--var', 'healthUrl=http://127.0.0.1:9/health'], ['verify-backups', '--dry-run', '--json', '--repo', missing]]) {
      const r = await drctl(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(JSON.parse(r.stdout), args.join(' ')).toMatchObject({ ok: true, exitCode: 0, dryRun: true });
      expect(r.stderr, args.join(' ')).toContain('DRY RUN');
    }
  });

  it('validate reports all three mistakes with file:line:col and exits 2', async () => {
    const file = path.join(fixtures, 'three-mistakes.yaml');
    const r = await drctl(['validate', file]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(`${file}:5:11 steps[0].uses: unknown action "postgres.dumpp"`);
    expect(lines[1]).toMatch(new RegExp(`^${file}:10:14 steps\\[1\\]\\.timeout: `));
    expect(lines[2]).toMatch(new RegExp(`^${file}:14:49 `));
  });

  it('malformed YAML and a non-mapping document exit 2 with a location', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.yaml'), 'apiVersion: drctl/v1\nsteps: [\n');
    writeFileSync(path.join(dir, 'b.yaml'), '- just\n- a list\n');
    writeFileSync(path.join(dir, 'c.yaml'), '');
    for (const f of ['a.yaml', 'b.yaml', 'c.yaml']) {
      const r = await drctl(['validate', path.join(dir, f)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^${dir}/${f}:\\d+:\\d+ `));
      noStack(r.all);
    }
  });

  it('a missing required input names the flag to pass', async () => {
    const r = await drctl(['run', path.join(fixtures, 'timeout-retry-jump.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('drctl: input "counter" is required: pass --var counter=...\n');
  });

  it('timeout, third-try success and onFailure jump give the expected JSON and JUnit reports and exit 1', async () => {
    const dir = tempDir();
    const counter = path.join(dir, 'count');
    const r = await drctl([
      'run',
      path.join(fixtures, 'timeout-retry-jump.yaml'),
      '--var',
      `counter=${counter}`,
      '--report',
      path.join(dir, 'report.json'),
      '--report',
      path.join(dir, 'report.xml'),
      '--report',
      path.join(dir, 'report.md'),
    ]);
    expect(r.code).toBe(1);
    const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8'));
    expect(report.status).toBe('failed');
    expect(report.exitCode).toBe(1);
    expect(report.steps.map((s: { id: string; status: string; attempts: number }) => [s.id, s.status, s.attempts])).toEqual([
      ['flaky', 'succeeded', 3],
      ['hang', 'failed', 1],
      ['never', 'skipped', 0],
      ['recover', 'succeeded', 1],
      ['cleanup', 'succeeded', 1],
    ]);
    expect(report.steps[1].timedOut).toBe(true);
    expect(report.steps[3].outputs.stdout).toBe('recovered after 3 tries');
    expect(report.steps[4].outputs.stdout).toBe('final status failed');
    // The run failed: nothing was recovered, so the RTO was not met, however fast it failed.
    expect(report.verdicts).toEqual([{ name: 'rto', targetMs: 300_000, met: false, notRecovered: true }]);

    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(readFileSync(path.join(dir, 'report.xml'), 'utf8'));
    const suite = xml.testsuites.testsuite;
    expect(suite.name).toBe('timeout-retry-jump');
    expect(suite.tests).toBe('6');
    // The hang step, and the RTO: a failed run recovered nothing.
    expect(suite.failures).toBe('2');
    expect(suite.testcase.find((c: { name: string }) => c.name === 'RTO').failure.type).toBe('rto');
    expect(suite.skipped).toBe('1');
    const hang = suite.testcase.find((c: { name: string }) => c.name.startsWith('hang'));
    expect(hang.failure.message).toBe('timed out after 500ms');
    expect(Number(hang.time)).toBeGreaterThanOrEqual(0.5);
    expect(readFileSync(path.join(dir, 'report.md'), 'utf8')).toContain('| hang | shell.run | failed |');

    const hist = await drctl(['history', '--json'], { env: { DRCTL_STATE_DIR: path.join(dir, 'state') } });
    expect(JSON.parse(hist.stdout)).toEqual([]);
  });

  it('records runs in the history and lists them', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state');
    const rb = path.join(dir, 'ok.yaml');
    writeFileSync(rb, 'apiVersion: drctl/v1\nname: ok\ntargets: { rto: 1m }\nsteps:\n  - id: a\n    uses: shell.run\n    with: { command: "true" }\n');
    expect((await drctl(['run', rb], { env: { DRCTL_STATE_DIR: state } })).code).toBe(0);
    expect((await drctl(['run', rb], { env: { DRCTL_STATE_DIR: state } })).code).toBe(0);
    const list = await drctl(['history'], { env: { DRCTL_STATE_DIR: state } });
    expect(list.code).toBe(0);
    expect(list.stdout.trim().split('\n')).toHaveLength(4);
    expect(list.stdout).toMatch(/ok\s+run\s+succeeded\s+\S+\s+met \(1m00s\)/);
    const json = JSON.parse((await drctl(['history', '--json', '--limit', '1'], { env: { DRCTL_STATE_DIR: state } })).stdout);
    expect(json).toHaveLength(1);
  });

  it('runs a runbook by name from --runbooks, and plan/--dry-run touch nothing', async () => {
    const dir = tempDir();
    const marker = path.join(dir, 'touched');
    writeFileSync(
      path.join(dir, 'touch.yaml'),
      `apiVersion: drctl/v1\nname: touch\ntargets: { rto: 10m }\nsteps:\n  - id: t\n    uses: shell.run\n    with: { command: "touch ${marker}" }\n    timeout: 5s\n    retries: { attempts: 2, backoff: 1s }\n    budget: 1m\n`,
    );
    const plan = await drctl(['--runbooks', dir, 'plan', 'touch']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(`sh -c "touch ${marker}"`);
    expect(plan.stdout).toContain('timeout 5.0s · 2 tries, backoff 1.0s · budget 1m00s');
    expect(plan.stdout).toContain('Targets: RTO 10m00s');
    const dry = await drctl(['--runbooks', dir, '--dry-run', 'run', 'touch']);
    expect(dry.code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect((await drctl(['run', 'touch', '--runbooks', dir])).code).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });

  it('manual.confirm without a TTY and without --yes exits 4; with --yes it proceeds', async () => {
    const dir = tempDir();
    const rb = path.join(dir, 'c.yaml');
    writeFileSync(rb, 'apiVersion: drctl/v1\nname: c\nsteps:\n  - id: ask\n    uses: manual.confirm\n    with: { message: "Wipe staging?" }\n');
    const no = await drctl(['run', rb]);
    expect(no.code).toBe(4);
    expect(no.all).toContain('no TTY: pass --yes');
    expect((await drctl(['run', rb, '--yes'])).code).toBe(0);
  });

  it('SIGINT stops the child, writes the report naming the running step, exits 130', async () => {
    const dir = tempDir();
    const rb = path.join(dir, 'long.yaml');
    writeFileSync(rb, 'apiVersion: drctl/v1\nname: long\nsteps:\n  - id: wait\n    uses: shell.run\n    with: { command: "echo started; sleep 60" }\n');
    const report = path.join(dir, 'r.json');
    const r = await drctl(['--log-format', 'json', 'run', rb, '--report', report], {
      onSpawn: (child) => {
        // The log line may arrive split across chunks: look at everything received so far.
        let seen = '';
        const onData = (d: Buffer) => {
          seen += d.toString();
          if (!seen.includes('step wait started')) return;
          child.stderr?.off('data', onData);
          child.kill('SIGINT');
        };
        child.stderr?.on('data', onData);
      },
    });
    expect(r.code).toBe(130);
    const j = JSON.parse(readFileSync(report, 'utf8'));
    expect(j.status).toBe('interrupted');
    expect(j.interruptedStep).toBe('wait');
  });
});

describe('http.check against a local server', () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/health') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ status: 'ok', db: { connected: true, pool: 3 } }));
      } else if (req.url === '/slow') setTimeout(() => res.end('late'), 3000);
      else {
        res.statusCode = 503;
        res.end('down');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('checks status and JSON fields, and fails clearly on mismatch and timeout', async () => {
    const dir = tempDir();
    const rb = path.join(dir, 'h.yaml');
    writeFileSync(
      rb,
      [
        'apiVersion: drctl/v1',
        'name: h',
        'inputs: { base: { required: true } }',
        'steps:',
        '  - id: ok',
        '    uses: http.check',
        '    with: { url: "${inputs.base}/health", json: { status: ok, db.connected: true } }',
        '  - id: wrong-field',
        '    uses: http.check',
        '    with: { url: "${inputs.base}/health", json: { db.pool: 10 } }',
        '    onFailure: continue',
        '  - id: down',
        '    uses: http.check',
        '    with: { url: "${inputs.base}/x" }',
        '    onFailure: continue',
        '  - id: slow',
        '    uses: http.check',
        '    with: { url: "${inputs.base}/slow" }',
        '    timeout: 300ms',
        '    onFailure: continue',
      ].join('\n'),
    );
    const out = path.join(dir, 'r.json');
    const r = await drctl(['run', rb, '--var', `base=${base}`, '--report', out]);
    expect(r.code).toBe(1);
    const steps = JSON.parse(readFileSync(out, 'utf8')).steps;
    expect(steps[0].status).toBe('succeeded');
    expect(steps[0].outputs.status).toBe(200);
    expect(steps[1].reason).toBe(`${base}/health: db.pool is 3, expected 10`);
    expect(steps[2].reason).toBe(`GET ${base}/x: status 503, expected 200`);
    expect(steps[3].reason).toBe('timed out after 300ms');
  });
});
