import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { drctl, tempDir, type CliResult } from '../support/cli.js';
import { startFakeRender, startFakeSupabase, type FakeRender, type FakeSupabase } from '../support/fake-managed.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';

// supabase.pitr / supabase.backups and render.pitr / render.backups through their real HTTP
// client code against local servers that answer like the providers' APIs: status transitions
// over several polls, a target outside the window, 429 with Retry-After, 5xx, an expired token.
// The tokens (and the new database's password) are canaries: never in any output.

interface Report {
  exitCode: number;
  steps: { id: string; status: string; outputs: Record<string, unknown>; error?: string; reason?: string }[];
}

describe('managed PostgreSQL: Supabase and Render', () => {
  let sb: FakeSupabase;
  let rd: FakeRender;
  let pg: PgServer;
  let root: string;
  let n = 0;
  const canaries = () => [sb.token, rd.token, rd.connection.password, 'signed-url-canary-4411'];

  const run = async (args: string[], env: Record<string, string> = {}): Promise<{ r: CliResult; report: Report; file: string }> => {
    const file = path.join(root, `report-${++n}.json`);
    const md = path.join(root, `report-${n}.md`);
    const r = await drctl(['--log-format', 'pretty', '--report', file, '--report', md, ...args], {
      env: { SUPABASE_API_URL: sb.baseUrl, SUPABASE_ACCESS_TOKEN: sb.token, RENDER_API_URL: rd.baseUrl, RENDER_API_KEY: rd.token, DRCTL_API_BACKOFF: '20ms', DRCTL_POLL_INTERVAL: '10ms', ...env },
    });
    let report = { exitCode: -1, steps: [] } as Report;
    try {
      report = JSON.parse(readFileSync(file, 'utf8')) as Report;
    } catch {
      // Usage errors stop before any report is written.
    }
    const all = r.all + (report.exitCode === -1 ? '' : readFileSync(file, 'utf8') + readFileSync(md, 'utf8'));
    for (const c of canaries()) expect(all, `canary ${c}`).not.toContain(c);
    return { r, report, file };
  };
  const step = (rep: Report, id: string) => rep.steps.find((s) => s.id === id)!;

  beforeAll(async () => {
    root = tempDir('drctl-managed-');
    [sb, rd, pg] = await Promise.all([startFakeSupabase(), startFakeRender(), startPostgres({ password: 'pg-canary-pw-6620' })]);
    await pg.sql('create database restored');
    await pg.sql('create table public.appointments (id int primary key); insert into public.appointments select generate_series(1, 5)', 'restored');
  });
  afterAll(async () => {
    await Promise.all([sb?.stop(), rd?.stop(), destroyPostgres(pg)]);
    rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    sb.log.length = 0;
    sb.faults.length = 0;
    sb.pitrEnabled = true;
    sb.status = 'ACTIVE_HEALTHY';
    sb.afterRestore = ['ACTIVE_HEALTHY', 'RESTORING', 'RESTORING', 'COMING_UP', 'ACTIVE_HEALTHY'];
    rd.log.length = 0;
    rd.faults.length = 0;
    rd.created.length = 0;
  });

  describe('supabase', () => {
    it('restores to a point in the window through several polls, riding out a 429 (Retry-After) and a 500', async () => {
      sb.faults.push({ method: 'GET', path: /\/database\/backups$/, status: 429, headers: { 'retry-after': '1' } });
      sb.faults.push({ method: 'GET', path: /^\/v1\/projects\/[a-z]+$/, status: 500 });
      const target = new Date(Date.now() - 5 * 60_000);
      const { r, report } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', `pitr=${target.toISOString()}`, '--var', 'pollInterval=10ms', '--yes']);
      expect(r.code, r.all).toBe(0);
      const out = step(report, 'restore').outputs;
      const unix = Math.floor(target.getTime() / 1000);
      expect(out.target).toBe(new Date(unix * 1000).toISOString());
      expect(out.recoveryPoint).toBe(out.target);
      expect(out.windowStart).toBe(new Date(sb.window.earliest * 1000).toISOString());
      expect(out.windowEnd).toBe(new Date(sb.window.latest * 1000).toISOString());
      expect(out.mode).toBe('pitr');
      expect(typeof out.unavailableMs).toBe('number');
      expect(out.polls).toBeGreaterThanOrEqual(5);
      const posts = sb.requests('POST', /restore-pitr$/);
      expect(posts).toHaveLength(1);
      expect(posts[0]!.body).toEqual({ recovery_time_target_unix: unix });
      // The 429 and the 500 were answered and retried.
      expect(sb.log.filter((l) => l.status === 429)).toHaveLength(1);
      expect(sb.log.filter((l) => l.status === 500)).toHaveLength(1);
      expect(r.all).toMatch(/retrying in 1\.0s/);
      expect(step(report, 'verify').status).toBe('skipped');
    });

    it('refuses a target outside the PITR window before asking or changing anything, saying the window', async () => {
      const { r } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'pitr=30 days ago', '--yes']);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toContain('is outside the recovery window');
      expect(r.all).toContain(new Date(sb.window.earliest * 1000).toISOString());
      expect(sb.requests('POST', /./)).toHaveLength(0);
      expect(r.all).not.toMatch(/\n\s+at /);
    });

    it('needs confirmation: without a TTY and without --yes it exits 4 and starts nothing', async () => {
      const { r } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'pitr=10 minutes ago']);
      expect(r.code, r.all).toBe(4);
      expect(sb.requests('POST', /./)).toHaveLength(0);
    });

    it('an expired token is one clear line, exit 1, and never retried', async () => {
      const { r } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--yes'], { SUPABASE_ACCESS_TOKEN: 'sbp_expired_canary_0000aa' });
      expect(r.code, r.all).toBe(1);
      expect(r.all).toContain('Supabase API rejected SUPABASE_ACCESS_TOKEN (401): the token is wrong or expired');
      expect(r.all).not.toContain('sbp_expired_canary_0000aa');
      expect(sb.log.filter((l) => l.status === 401)).toHaveLength(1);
    });

    it('gives up on a server that keeps answering 5xx after a bounded number of tries', async () => {
      sb.faults.push({ method: 'GET', path: /\/database\/backups$/, status: 503, times: 100 });
      const { r } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--yes']);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toContain('Supabase API answered 503');
      expect(r.all).toContain('after 5 attempts');
      expect(sb.log.filter((l) => l.status === 503)).toHaveLength(5);
      expect(sb.requests('POST', /./)).toHaveLength(0);
    });

    it('without PITR restores the newest daily backup taken at or before the target', async () => {
      sb.pitrEnabled = false;
      const day = (d: number) => new Date(Date.now() - d * 86400_000).toISOString();
      sb.backups = [
        { id: 11, inserted_at: day(3), status: 'COMPLETED', is_physical_backup: true },
        { id: 12, inserted_at: day(2), status: 'COMPLETED', is_physical_backup: true },
        { id: 13, inserted_at: day(1), status: 'COMPLETED', is_physical_backup: true },
      ];
      const { r, report } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'pitr=36h ago', '--var', 'pollInterval=10ms', '--yes']);
      // Restored, but a day-old backup misses the runbook's 15-minute RPO: exit 3.
      expect(r.code, r.all).toBe(3);
      expect(r.all).toMatch(/RPO: 2d\d\dh against 15m00s — MISSED/);
      expect(sb.requests('POST', /\/database\/backups\/restore$/)[0]!.body).toEqual({ id: 12 });
      const out = step(report, 'restore').outputs;
      expect(out.mode).toBe('backup');
      expect(out.recoveryPoint).toBe(sb.backups[1]!.inserted_at);
      const early = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'pitr=5d ago', '--yes']);
      expect(early.r.code).toBe(1);
      expect(early.r.all).toContain('no daily backup was taken at or before');
    });

    it('times out when the project does not come back, naming its last status', async () => {
      sb.afterRestore = ['RESTORING'];
      const { r } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'timeout=1ms', '--var', 'pollInterval=20ms', '--yes']);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toMatch(/still RESTORING after .* \(timeout 1ms\)/);
    });

    it('a project unhealthy before the request that never shows a restore is not reported restored', async () => {
      sb.status = 'ACTIVE_UNHEALTHY';
      sb.afterRestore = ['ACTIVE_UNHEALTHY', 'ACTIVE_UNHEALTHY', 'ACTIVE_HEALTHY'];
      const { r, report } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'timeout=300ms', '--var', 'pollInterval=10ms', '--yes']);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toContain(`Supabase project ${sb.ref}: the provider never reported the restore as started`);
      expect(r.all).toMatch(/last status ACTIVE_HEALTHY after .* \(timeout 300ms\)/);
      expect(step(report, 'restore').status).toBe('failed');
      expect(step(report, 'restore').outputs?.restored).toBeUndefined();
      expect(r.all).not.toMatch(/RTO: .* — met/);
      expect(sb.requests('POST', /./)).toHaveLength(1);
    });

    it('a project unhealthy before the request is restored once it goes through RESTORING', async () => {
      sb.status = 'ACTIVE_UNHEALTHY';
      sb.afterRestore = ['ACTIVE_UNHEALTHY', 'RESTORING', 'COMING_UP', 'ACTIVE_HEALTHY'];
      const { r, report } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'pollInterval=10ms', '--yes']);
      expect(r.code, r.all).toBe(0);
      expect(step(report, 'restore').outputs).toMatchObject({ restored: true, polls: 4 });
    });

    it('RESTORE_FAILED fails the step; a RESTORE_FAILED left from an earlier attempt does not', async () => {
      sb.afterRestore = ['RESTORING', 'RESTORE_FAILED'];
      const { r } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'pollInterval=10ms', '--yes']);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toContain(`Supabase project ${sb.ref}: the restore ended in RESTORE_FAILED`);
      sb.status = 'RESTORE_FAILED';
      sb.afterRestore = ['RESTORE_FAILED', 'RESTORING', 'ACTIVE_HEALTHY'];
      const again = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'pollInterval=10ms', '--yes']);
      expect(again.r.code, again.r.all).toBe(0);
      expect(step(again.report, 'restore').outputs).toMatchObject({ restored: true, polls: 3 });
    });

    it('a 504 to the restore request is not retried: the restore may have started, and the line says where to look', async () => {
      sb.faults.push({ method: 'POST', path: /restore-pitr$/, status: 504, acts: true });
      const { r, report } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'pollInterval=10ms', '--yes']);
      expect(r.code, r.all).toBe(1);
      expect(sb.requests('POST', /./)).toHaveLength(1);
      expect(step(report, 'restore').reason).toMatch(/Supabase API answered 504.*the restore may have started anyway: .*Supabase Dashboard/);
      expect(r.all).not.toContain('retrying');
      expect(r.all).not.toMatch(/\n\s+at /);
    });

    it('a provider that never answers: a GET is asked again, a restore request is not (it may have started)', async () => {
      sb.faults.push({ method: 'GET', path: /\/projects\/[a-z]+$/, status: 0, hang: true });
      sb.faults.push({ method: 'POST', path: /restore-pitr$/, status: 0, hang: true, acts: true });
      const started = Date.now();
      const { r, report } = await run(['run', 'supabase-pitr', '--var', `project=${sb.ref}`, '--var', 'pollInterval=10ms', '--yes'], { DRCTL_API_TIMEOUT: '300ms' });
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(r.code, r.all).toBe(1);
      expect(sb.requests('POST', /./)).toHaveLength(1);
      expect(step(report, 'restore').reason).toMatch(/sent no answer in 300ms, so it is not sent again; .*Supabase Dashboard/);
      expect(r.all).toMatch(/sent no answer in 300ms; retrying/);
      expect(r.all).not.toMatch(/\n\s+at /);
    });

    it('verify-managed fails when the window does not keep the RPO promise', async () => {
      sb.window.latest = Math.floor(Date.now() / 1000) - 3600;
      try {
        const { r } = await run(['run', 'verify-managed', '--var', `supabaseProject=${sb.ref}`, '--var', 'maxAge=15m']);
        expect(r.code, r.all).toBe(1);
        expect(r.all).toMatch(/latest recovery point .* is 1h0\dm old \(max 15m\)/);
        const ok = await run(['run', 'verify-managed', '--var', `supabaseProject=${sb.ref}`, '--var', 'maxAge=2h']);
        expect(ok.r.code, ok.r.all).toBe(0);
        expect(step(ok.report, 'supabase').outputs.pitrEnabled).toBe(true);
        expect(step(ok.report, 'render').status).toBe('skipped');
      } finally {
        sb.window.latest = Math.floor(Date.now() / 1000) - 60;
      }
    });
  });

  describe('render', () => {
    beforeAll(() => {
      const url = pg.url('restored');
      rd.connection = { password: pg.password, externalConnectionString: url, internalConnectionString: url.replace('127.0.0.1', 'dpg-recovered0002-a'), psqlCommand: `PGPASSWORD=${pg.password} psql -h 127.0.0.1` };
    });

    it('recovers into a new instance, waits until available, and checks it with postgres.assert', async () => {
      rd.faults.push({ method: 'POST', path: /\/recovery$/, status: 429, headers: { 'retry-after': '0' } });
      const { r, report } = await run(['run', 'render-pitr', '--var', `postgres=${rd.sourceId}`, '--var', 'pitr=12 minutes ago', '--var', 'name=prod-pitr', '--var', 'pollInterval=10ms']);
      expect(r.code, r.all).toBe(0);
      const out = step(report, 'restore').outputs;
      expect(out.postgresId).toBe(rd.newId);
      expect(out.polls).toBe(3);
      expect(String(out.url)).not.toContain(pg.password);
      expect(step(report, 'verify').status).toBe('succeeded');
      expect(r.all).toMatch(/RPO: 12m\d\ds against 15m00s — met/);
      const posts = rd.requests('POST', /\/recovery$/);
      expect(posts.map((p) => p.status)).toEqual([429, 201]);
      expect(posts[1]!.body).toMatchObject({ restoreName: 'prod-pitr' });
      expect(Date.parse((posts[1]!.body as { restoreTime: string }).restoreTime)).toBe(Date.parse(String(out.target)));
      expect(r.all + JSON.stringify(report)).not.toContain(pg.password);
    });

    it('refuses a target newer than the window (Render keeps the last ten minutes out) before starting anything', async () => {
      const { r } = await run(['run', 'render-pitr', '--var', `postgres=${rd.sourceId}`, '--var', 'pitr=2 minutes ago', '--var', 'verify=false']);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toContain('is outside the recovery window');
      expect(rd.requests('POST', /./)).toHaveLength(0);
    });

    it('verify-managed fails when the recovery window is shorter than the retention promised', async () => {
      const { r } = await run(['run', 'verify-managed', '--var', `renderPostgres=${rd.sourceId}`, '--var', 'retention=7d']);
      expect(r.code, r.all).toBe(1);
      expect(r.all).toMatch(/earliest recovery point .* reaches back 3d00h, less than the 7d promised/);
      const ok = await run(['run', 'verify-managed', '--var', `renderPostgres=${rd.sourceId}`, '--var', 'retention=3d']);
      expect(ok.r.code, ok.r.all).toBe(0);
      expect(step(ok.report, 'render').outputs).toMatchObject({ recoveryStatus: 'AVAILABLE', exports: 1 });
    });

    it('a 504 to the recovery request is not retried, so no second instance is created', async () => {
      rd.faults.push({ method: 'POST', path: /\/recovery$/, status: 504, acts: true });
      const { r, report } = await run(['run', 'render-pitr', '--var', `postgres=${rd.sourceId}`, '--var', 'pitr=12 minutes ago', '--var', 'name=prod-pitr', '--var', 'pollInterval=10ms']);
      expect(r.code, r.all).toBe(1);
      expect(rd.requests('POST', /\/recovery$/)).toHaveLength(1);
      expect(rd.created).toEqual([rd.newId]);
      expect(step(report, 'restore').reason).toMatch(/Render API answered 504.*the recovery may have started anyway: .*Render Dashboard .*prod-pitr/);
      expect(step(report, 'verify').status).toBe('skipped');
    });

    it('a 503 with Retry-After to the recovery request is retried; one without is not', async () => {
      rd.faults.push({ method: 'POST', path: /\/recovery$/, status: 503, headers: { 'retry-after': '0' } });
      const { r } = await run(['run', 'render-pitr', '--var', `postgres=${rd.sourceId}`, '--var', 'pitr=12 minutes ago', '--var', 'verify=false', '--var', 'pollInterval=10ms']);
      expect(r.code, r.all).toBe(0);
      expect(rd.requests('POST', /\/recovery$/).map((p) => p.status)).toEqual([503, 201]);
      rd.log.length = 0;
      rd.faults.push({ method: 'POST', path: /\/recovery$/, status: 503 });
      const bare = await run(['run', 'render-pitr', '--var', `postgres=${rd.sourceId}`, '--var', 'pitr=12 minutes ago', '--var', 'verify=false', '--var', 'pollInterval=10ms']);
      expect(bare.r.code, bare.r.all).toBe(1);
      expect(rd.requests('POST', /\/recovery$/)).toHaveLength(1);
      expect(bare.r.all).toContain('the recovery may have started anyway');
    });

    it('an expired API key is one clear line', async () => {
      const { r } = await run(['run', 'render-pitr', '--var', `postgres=${rd.sourceId}`, '--var', 'verify=false'], { RENDER_API_KEY: 'rnd_expired_canary_77' });
      expect(r.code, r.all).toBe(1);
      expect(r.all).toContain('Render API rejected RENDER_API_KEY (401): the token is wrong or expired');
      expect(r.all).not.toContain('rnd_expired_canary_77');
    });
  });

  describe('drctl restore --pitr --provider', () => {
    it('supabase: the resolved target first, then a one-line result with the time the project was unavailable', async () => {
      const { r, report } = await run(['restore', '--pitr', '10 minutes ago', '--provider', 'supabase', '--project', sb.ref, '--yes'], { SUPABASE_PROJECT_REF: '' });
      expect(r.code, r.all).toBe(0);
      expect(r.stderr).toMatch(/recovery target: \d{4}-\d\d-\d\dT[\d:.]+Z \(UTC\)/);
      expect(r.stdout).toMatch(new RegExp(`^restored Supabase project ${sb.ref} in place to .*Z; unavailable for \\d`));
      expect(report.steps.map((s) => s.id)).toEqual(['window', 'restore', 'verify']);
      expect(r.all).toMatch(/RPO: 10m0\ds against 15m00s — met/);
    });

    it('render: names the new instance; its password is never printed', async () => {
      const { r } = await run(['restore', '--pitr', '12 minutes ago', '--provider', 'render', '--project', rd.sourceId]);
      expect(r.code, r.all).toBe(0);
      expect(r.stdout).toContain(`into new instance ${rd.newId} (prod-pitr)`);
      expect(r.all).not.toContain(pg.password);
      // A fresh fake project: the second recovery would otherwise be given a second id.
      rd.created.length = 0;
      const json = await run(['restore', '--pitr', '12 minutes ago', '--provider', 'render', '--project', rd.sourceId, '--json']);
      expect(json.r.code, json.r.all).toBe(0);
      const doc = JSON.parse(json.r.stdout) as { ok: boolean; restore: { postgresId: string; url: string } };
      expect(doc.ok).toBe(true);
      expect(doc.restore.postgresId).toBe(rd.newId);
      expect(doc.restore.url).not.toContain(pg.password);
    });

    it('bad combinations are one line and exit 2', async () => {
      for (const [args, msg] of [
        [['--provider', 'heroku', '--project', 'x'], '--provider heroku: use supabase or render'],
        [['--provider', 'supabase'], '--provider supabase needs --project'],
        [['--provider', 'supabase', '--project', sb.ref, '--target-dir', '/tmp/x'], '--target-dir: not with --provider supabase'],
        [['--provider', 'render', '--project', rd.sourceId, '--pitr', '2026-11-25 09:00'], 'has no time zone'],
      ] as const) {
        const { r } = await run(['restore', ...args]);
        expect(r.code, r.all).toBe(2);
        expect(r.stderr).toContain(msg);
      }
      expect(sb.requests('POST', /./)).toHaveLength(0);
      expect(rd.requests('POST', /./)).toHaveLength(0);
    });
  });
});
