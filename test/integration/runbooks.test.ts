import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownedByPostgres, startArchivingPostgres, switchAndWaitArchived } from '../support/archiving.js';
import { drctl, tempDir } from '../support/cli.js';
import { startFakeTwilio, startWebhook } from '../support/fake-twilio.js';
import { startFakeVapi } from '../support/fake-vapi.js';
import { destroyPostgres, freePort, type PgServer } from '../support/postgres.js';

const RUNBOOKS = path.resolve(import.meta.dirname, '..', '..', 'runbooks');

describe('drills and PostgreSQL runbooks (archiving PostgreSQL)', () => {
  let pg: PgServer;
  let repoDir: string;
  let repo: string;
  const state = tempDir('drctl-drill-state-');

  beforeAll(async () => {
    ({ pg, repoDir, repo } = await startArchivingPostgres());
    await pg.sql('create database app');
    await pg.sql("create table orders (id int primary key, item text); insert into orders select g, 'item ' || g from generate_series(1, 500) g", 'app');
    expect((await drctl(['backup', '--type', 'base', '--source', pg.url('app'), '--repo', repo])).code).toBe(0);
  }, 120_000);
  afterAll(async () => destroyPostgres(pg));

  // Scratch data directories live in this file's temp root, removed with it after the tests.
  async function scratch() {
    const dir = path.join(ownedByPostgres(tempDir('drctl-scratch-target-')), 'data');
    const port = await freePort();
    return { dir, port, url: pg.url('app').replace(`:${pg.port}/`, `:${port}/`) };
  }

  async function drill(file: string) {
    const s = await scratch();
    const out = path.join(tempDir(), 'drill.json');
    const r = await drctl(
      ['--log-format', 'pretty', 'drill', file, '--var', `db=${pg.url('app')}`, '--var', `repo=${repo}`, '--var', `scratchDir=${s.dir}`, '--var', `scratchPort=${s.port}`, '--var', `scratchDb=${s.url}`, '--report', out, '--report', out.replace('.json', '.md')],
      { env: { DRCTL_STATE_DIR: state } },
    );
    return { ...r, report: JSON.parse(readFileSync(out, 'utf8')), md: readFileSync(out.replace('.json', '.md'), 'utf8'), dir: s.dir };
  }

  it('a full drill measures RTO and RPO, records itself in the repository, and compares with the previous drill', async () => {
    const first = await drill(path.join(RUNBOOKS, 'full-dr-drill.yaml'));
    expect(first.code, first.all).toBe(0);
    expect(first.report.kind).toBe('drill');
    expect(first.report.measured.rtoMs).toBeGreaterThan(0);
    expect(first.report.measured.rpoMs).toBeGreaterThanOrEqual(0);
    expect(first.report.verdicts.map((v: { name: string; met: boolean }) => [v.name, v.met])).toEqual([
      ['rto', true],
      ['rpo', true],
    ]);
    expect(first.stdout.trim().split('\n')).toHaveLength(3);
    expect(existsSync(path.join(first.dir, 'postmaster.pid'))).toBe(false);
    const second = await drill(path.join(RUNBOOKS, 'full-dr-drill.yaml'));
    expect(second.code, second.all).toBe(0);
    expect(second.stdout.trim().split('\n')).toHaveLength(4);
    expect(second.stdout).toContain('(this drill)');
    expect(second.report.previous[0].runId).toBe(first.report.runId);
    expect(second.md).toContain('## Drills of this runbook');
    expect(readdirSync(path.join(repoDir, 'history', 'runs')).filter((f) => f.endsWith('-full-dr-drill.json'))).toHaveLength(2);
    const hist = JSON.parse((await drctl(['history', '--runbook', 'full-dr-drill', '--json'], { env: { DRCTL_STATE_DIR: state } })).stdout);
    expect(hist).toHaveLength(2);
  });

  it('a drill that misses its RTO exits 3 and says by how much', async () => {
    // The miss is certain, whatever the machine's speed: between the disaster and the recovery
    // a step sleeps for longer than the whole RTO.
    const strict = path.join(tempDir(), 'full-dr-drill.yaml');
    const source = readFileSync(path.join(RUNBOOKS, 'full-dr-drill.yaml'), 'utf8');
    const slow = '  - id: slow\n    uses: shell.run\n    with: { command: "sleep 0.5" }\n  - id: recover\n';
    const edited = source.replace('targets: { rto: 2h, rpo: 1h }', 'targets: { rto: 200ms, rpo: 1h }').replace('  - id: recover\n', slow);
    expect(edited).toContain('rto: 200ms');
    expect(edited).toContain('id: slow');
    writeFileSync(strict, edited);
    const r = await drill(strict);
    expect(r.code, r.all).toBe(3);
    expect(r.stderr).toMatch(/RTO: \S+ against 200ms — MISSED by \S+/);
    expect(r.md).toMatch(/\| RTO \| 200ms \| \S+ \| \*\*missed\*\* by \S+ \|/);
  });

  it('accidental deletion: recover to just before it on a scratch port and copy the rows back', async () => {
    // `before` is the server's clock to the millisecond (truncated): the commits before it must
    // fall in an earlier millisecond (20 ms is a wide margin over 1 ms), the deletion begins
    // after the statement that read it returned.
    await sleep(20);
    const before = await pg.sql("select to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", 'app');
    await sleep(20);
    await pg.sql('delete from orders where id % 5 = 0', 'app');
    await pg.sql("insert into orders values (1001, 'after the deletion')", 'app');
    await switchAndWaitArchived(pg, repoDir);
    expect(await pg.sql('select count(*) from orders', 'app')).toBe('401');
    const s = await scratch();
    const r = await drctl(
      ['--yes', 'run', 'accidental-deletion', '--var', `db=${pg.url('app')}`, '--var', `repo=${repo}`, '--var', `before=${before}`, '--var', 'table=orders', '--var', 'where=id % 5 = 0', '--var', `scratchDir=${s.dir}`, '--var', `scratchPort=${s.port}`, '--var', `scratchDb=${s.url}`],
      { env: { DRCTL_STATE_DIR: state } },
    );
    expect(r.code, r.all).toBe(0);
    expect(await pg.sql('select count(*) from orders', 'app')).toBe('501');
    expect(await pg.sql("select item from orders where id = 1001", 'app')).toBe('after the deletion');
    expect(existsSync(path.join(s.dir, 'postmaster.pid'))).toBe(false);
  });
});

describe('service runbooks', () => {
  it('rollback: a good version passes the gate; a broken one is reverted automatically; --dry-run deploys nothing', async () => {
    const dir = tempDir('drctl-rollback-');
    const versionFile = path.join(dir, 'version');
    writeFileSync(versionFile, 'v2.0.0');
    const server = http.createServer((req, res) => {
      const v = readFileSync(versionFile, 'utf8').trim();
      res.setHeader('content-type', 'application/json');
      if (req.url === '/version') res.end(JSON.stringify({ version: v }));
      else {
        res.statusCode = v.endsWith('-broken') ? 503 : 200;
        res.end(JSON.stringify({ status: res.statusCode === 200 ? 'ok' : 'down' }));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const env = { DRCTL_DEPLOY_COMMAND: `printf %s "$VERSION" > ${versionFile}`, DRCTL_VERSION_URL: `${base}/version`, HEALTH_URL: `${base}/health` };
    try {
      const dry = await drctl(['--dry-run', 'rollback', '--to-version', 'v1.9.0'], { env });
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain('DRY RUN');
      expect(readFileSync(versionFile, 'utf8')).toBe('v2.0.0');

      const good = await drctl(['rollback', '--to-version', 'v1.9.0'], { env });
      expect(good.code, good.all).toBe(0);
      expect(readFileSync(versionFile, 'utf8')).toBe('v1.9.0');

      const out = path.join(dir, 'r.json');
      const bad = await drctl(['rollback', '--to-version', 'v1.8.0-broken', '--report', out], { env });
      expect(bad.code).toBe(1);
      expect(readFileSync(versionFile, 'utf8')).toBe('v1.9.0');
      const steps = JSON.parse(readFileSync(out, 'utf8')).steps.map((s: { id: string; status: string }) => [s.id, s.status]);
      expect(steps).toEqual([
        ['current', 'succeeded'],
        ['deploy', 'succeeded'],
        ['confirm-version', 'succeeded'],
        ['health-gate', 'failed'],
        ['revert', 'succeeded'],
        ['revert-version', 'succeeded'],
        ['revert-health', 'succeeded'],
        ['notify', 'skipped'],
      ]);

      // A deploy hook that returns at once, the new version running 1.5 s later: the gate waits
      // for it, judges it, and nothing is reverted (no second deploy races the first).
      const deploys = path.join(dir, 'deploys');
      const hook = { ...env, DRCTL_DEPLOY_COMMAND: `echo "$VERSION" >> ${deploys}; (sleep 1.5; printf %s "$VERSION" > ${versionFile}) >/dev/null 2>&1 &` };
      const later = await drctl(['rollback', '--to-version', 'v1.7.0', '--report', out], { env: hook });
      expect(later.code, later.all).toBe(0);
      expect(readFileSync(versionFile, 'utf8')).toBe('v1.7.0');
      expect(readFileSync(deploys, 'utf8')).toBe('v1.7.0\n');
      expect(JSON.parse(readFileSync(out, 'utf8')).steps.find((s: { id: string }) => s.id === 'confirm-version').attempts).toBeGreaterThan(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('an incident run keeps a Markdown timeline with the operator confirmation and notes', async () => {
    const state = tempDir('drctl-incident-state-');
    const rb = path.join(tempDir(), 'outage.yaml');
    writeFileSync(
      rb,
      [
        'apiVersion: drctl/v1',
        'name: db-outage',
        'targets: { rto: 1h }',
        'steps:',
        '  - id: note',
        '    uses: manual.note',
        '    with: { text: "root cause: connection pool exhausted" }',
        '  - id: approve',
        '    uses: manual.confirm',
        '    with: { message: "Restart the pool?" }',
        '  - id: restart',
        '    uses: shell.run',
        '    with: { command: "echo restarted" }',
      ].join('\n'),
    );
    const r = await drctl(['run', rb, '--yes', '--incident', 'P1: database connections exhausted'], { env: { DRCTL_STATE_DIR: state, USER: 'oncall-alice' } });
    expect(r.code, r.all).toBe(0);
    const [file] = readdirSync(path.join(state, 'incidents'));
    const md = readFileSync(path.join(state, 'incidents', file!), 'utf8');
    expect(md).toContain('# Incident: P1: database connections exhausted');
    expect(md).toContain('✅ RESOLVED');
    expect(md).toContain('note: root cause: connection pool exhausted');
    expect(md).toContain('confirmed by **oncall-alice**');
    expect(md).toMatch(/\| \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC \| restart done after/);
    expect(md).toContain('Recovery time (RTO achieved)');
  });

  it('env backup and restore: encrypted, shows which keys change (never values), asks first', async () => {
    const dir = tempDir('drctl-env-');
    const repo = `file://${tempDir('drctl-env-repo-')}`;
    const envFile = path.join(dir, '.env');
    writeFileSync(envFile, 'DATABASE_URL=postgres://app:env-canary-pw-11@db/app\nTWILIO_AUTH_TOKEN=env-canary-token-22\nBASE_URL=https://app.example.com\n');
    const key = { DRCTL_ENCRYPTION_KEY: 'env backup key canary 33' };
    const b = await drctl(['run', 'env-backup', '--var', `file=${envFile}`, '--var', `repo=${repo}`], { env: key });
    expect(b.code, b.all).toBe(0);
    const plain = await drctl(['run', 'env-backup', '--var', `file=${envFile}`, '--var', `repo=file://${tempDir()}`]);
    expect(plain.code).toBe(1);
    expect(plain.all).toContain('not encrypted: env files hold secrets');

    writeFileSync(envFile, 'DATABASE_URL=postgres://app:changed-pw@db/app\nEXTRA=1\n');
    const ask = await drctl(['--log-format', 'pretty', 'run', 'env-restore', '--var', `file=${envFile}`, '--var', `repo=${repo}`], { env: key });
    expect(ask.code).toBe(4);
    expect(ask.stderr).toContain('+ TWILIO_AUTH_TOKEN (added)');
    expect(ask.stderr).toContain('~ DATABASE_URL (value differs)');
    expect(ask.stderr).toContain('- EXTRA (not in the backup; will be dropped)');
    expect(readFileSync(envFile, 'utf8')).toContain('changed-pw');
    const yes = await drctl(['--yes', 'run', 'env-restore', '--var', `file=${envFile}`, '--var', `repo=${repo}`], { env: key });
    expect(yes.code, yes.all).toBe(0);
    expect(readFileSync(envFile, 'utf8')).toContain('TWILIO_AUTH_TOKEN=env-canary-token-22');
    for (const canary of ['env-canary-pw-11', 'env-canary-token-22', 'changed-pw', key.DRCTL_ENCRYPTION_KEY]) {
      expect(b.all + ask.all + yes.all, canary).not.toContain(canary);
    }

    // Another service's env file backed up into the same repository later: "latest" of this
    // file is still this file's backup, not the newer one of the other.
    const worker = path.join(dir, '.env.worker');
    writeFileSync(worker, 'QUEUE=jobs\n');
    expect((await drctl(['run', 'env-backup', '--var', `file=${worker}`, '--var', `repo=${repo}`], { env: key })).code).toBe(0);
    writeFileSync(envFile, 'DATABASE_URL=x\n');
    const mine = await drctl(['--yes', 'run', 'env-restore', '--var', `file=${envFile}`, '--var', `repo=${repo}`], { env: key });
    expect(mine.code, mine.all).toBe(0);
    expect(readFileSync(envFile, 'utf8')).toContain('TWILIO_AUTH_TOKEN=env-canary-token-22');
    expect(readFileSync(envFile, 'utf8')).not.toContain('QUEUE');
    // A file the repository holds no backup of: refused, never another file's contents.
    const other = path.join(dir, '.env.billing');
    writeFileSync(other, 'KEEP=1\n');
    const none = await drctl(['--yes', 'run', 'env-restore', '--var', `file=${other}`, '--var', `repo=${repo}`], { env: key });
    expect(none.code, none.all).toBe(2);
    expect(none.all).toContain(`no env backup of ${other}`);
    expect(readFileSync(other, 'utf8')).toBe('KEEP=1\n');
  });

  it('credential-check passes against Twilio and Vapi, and fails naming the webhook that drifted', async () => {
    const twilio = await startFakeTwilio();
    const vapi = await startFakeVapi();
    try {
      twilio.numbers.push({ sid: 'PN1', phoneNumber: '+15005550006', voiceUrl: 'https://app.example.com/voice', smsUrl: 'https://app.example.com/sms' });
      vapi.assistants.asst_1 = { serverUrl: 'https://app.example.com/vapi' };
      vapi.phoneNumbers.push('pn_1');
      const env = { TWILIO_ACCOUNT_SID: twilio.accountSid, TWILIO_AUTH_TOKEN: twilio.authToken, TWILIO_API_BASE_URL: twilio.baseUrl, TWILIO_FROM_NUMBER: '+15005550006', VAPI_API_KEY: vapi.apiKey, VAPI_BASE_URL: vapi.baseUrl, VAPI_ASSISTANT_ID: 'asst_1', VAPI_PHONE_NUMBER_ID: 'pn_1' };
      const vars = ['--var', 'voiceUrl=https://app.example.com/voice', '--var', 'smsUrl=https://app.example.com/sms', '--var', 'vapiServerUrl=https://app.example.com/vapi'];
      expect((await drctl(['run', 'credential-check', ...vars], { env })).code).toBe(0);
      const moved = await drctl(['--log-format', 'pretty', 'run', 'credential-check', ...vars.slice(0, 4), '--var', 'vapiServerUrl=https://new.example.com/vapi'], { env });
      expect(moved.code).toBe(1);
      expect(moved.stderr).toContain('assistant asst_1 server URL is https://app.example.com/vapi, expected https://new.example.com/vapi');
      expect(moved.all).not.toContain(twilio.authToken);
      expect(moved.all).not.toContain(vapi.apiKey);
    } finally {
      await twilio.stop();
      await vapi.stop();
    }
  });

  it('emergency shutdown: confirmation, maintenance flag through the admin API, the app refuses traffic', async () => {
    let maintenance = false;
    const token = 'admin-canary-key-44';
    const server = http.createServer((req, res) => {
      if (req.url === '/admin/maintenance' && req.method === 'POST') {
        if (req.headers.authorization !== `Bearer ${token}`) {
          res.statusCode = 401;
          return res.end('{}');
        }
        maintenance = true;
        return res.end('{"maintenance":true}');
      }
      res.statusCode = maintenance ? 503 : 200;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const hook = await startWebhook();
    try {
      const vars = ['--var', `maintenanceUrl=${base}/admin/maintenance`, '--var', `healthUrl=${base}/health`];
      const env = { API_KEY: token, DRCTL_NOTIFY_WEBHOOK: hook.url };
      const no = await drctl(['run', 'emergency-shutdown', ...vars], { env });
      expect(no.code).toBe(4);
      expect(maintenance).toBe(false);
      const yes = await drctl(['--yes', 'run', 'emergency-shutdown', ...vars], { env });
      expect(yes.code, yes.all).toBe(0);
      expect(maintenance).toBe(true);
      expect(hook.received.at(-1)).toEqual({ text: 'emergency shutdown succeeded (maintenance on)' });
      expect(no.all + yes.all).not.toContain(token);
    } finally {
      await hook.stop();
      await new Promise((r) => server.close(r));
    }
  });
});

// The shipped runbooks all validate (CI also runs drctl validate runbooks/*.yaml).
describe('shipped runbooks', () => {
  it('every file in runbooks/ validates', async () => {
    const files = readdirSync(RUNBOOKS).filter((f) => f.endsWith('.yaml')).map((f) => path.join(RUNBOOKS, f));
    const r = await drctl(['validate', ...files]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(files.length);
  });
});
