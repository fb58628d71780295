import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownedByPostgres, startArchivingPostgres, switchAndWaitArchived } from '../support/archiving.js';
import { drctl, tempDir } from '../support/cli.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { startFakeCloudflare, type FakeCloudflare } from '../support/fake-providers.js';
import { destroyPostgres, freePort, startPostgres, type PgServer } from '../support/postgres.js';
import { caughtUp, destroyStandby, PRIMARY_SETTINGS, startStandby } from '../support/standby.js';

const RUNBOOKS = path.resolve(import.meta.dirname, '..', '..', 'runbooks');
const PASSWORD = 'pg-drill-canary-0b7d';

// drctl drill runbooks/failover-drill.yaml end to end on one machine: a real primary and a
// streaming standby, Cloudflare's API answered locally, and a DNS server that serves what that
// API holds, so the DNS check sees the switch the drill made.

interface DrillReport {
  kind: string;
  measured: { rtoMs?: number; rpoMs?: number; recoveryPoint?: string };
  verdicts: { name: string; met: boolean }[];
  steps: { id: string; status: string; outputs: Record<string, unknown> }[];
}

describe('failover drill', () => {
  let primary: PgServer;
  let standby: PgServer;
  let cf: FakeCloudflare;
  let dns: DnsServer;
  let root: string;

  beforeAll(async () => {
    root = tempDir('drctl-failover-drill-');
    primary = await startPostgres({ password: PASSWORD, settings: PRIMARY_SETTINGS });
    standby = await startStandby(primary);
    await caughtUp(primary, standby);
    cf = await startFakeCloudflare();
    cf.records.push({ id: 'rec-db', type: 'A', name: 'db.example.com', content: '127.0.0.1', ttl: 60, proxied: false });
    dns = await startDnsServer((name) => {
      const r = cf.records.filter((x) => x.name === name);
      return r.length ? { A: r.filter((x) => x.type === 'A').map((x) => x.content) } : undefined;
    });
  });
  afterAll(async () => {
    await Promise.all([destroyStandby(standby), destroyPostgres(primary), cf.stop(), dns.stop()]);
    rmSync(root, { recursive: true, force: true });
  });

  it('promotes the standby after the primary is lost, switches DNS, proves writes, and reports RTO, RPO and the rows lost', async () => {
    const out = path.join(root, 'drill.json');
    const vars = {
      primary: primary.url(),
      primaryDataDir: primary.dataDir,
      standby: standby.url(),
      trafficRows: '1000',
      dnsZone: 'example.com',
      dnsName: 'db.example.com',
      dnsValue: '127.0.0.2',
      resolver: dns.address,
    };
    const r = await drctl(['--log-format', 'pretty', 'drill', path.join(RUNBOOKS, 'failover-drill.yaml'), ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}=${v}`]), '--report', out], {
      env: { CLOUDFLARE_API_URL: cf.apiUrl, CLOUDFLARE_API_TOKEN: cf.token, DRCTL_STATE_DIR: path.join(root, 'state') },
      cwd: root,
    });
    expect(r.code, r.all).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as DrillReport;
    expect(report.kind).toBe('drill');
    expect(report.steps.map((s) => `${s.id}:${s.status}`)).toEqual([
      'build-standby:skipped',
      'standby-ready:succeeded',
      'prepare:succeeded',
      'standby-has-table:succeeded',
      'traffic:succeeded',
      'count:succeeded',
      'declare:succeeded',
      'promote:succeeded',
      'dns:succeeded',
      'dns-check:succeeded',
      'health:succeeded',
      'write:succeeded',
    ]);
    expect(report.verdicts.map((v) => [v.name, v.met])).toEqual([
      ['rto', true],
      ['rpo', true],
    ]);
    expect(report.measured.rtoMs).toBeGreaterThan(0);
    expect(report.measured.rpoMs).toBeGreaterThanOrEqual(0);
    const promote = report.steps.find((s) => s.id === 'promote')?.outputs ?? {};
    expect(promote).toMatchObject({ promoted: true, timeline: 2, previousTimeline: 1, primaryReachable: false });
    // An immediate stop may cut WAL the standby never got: whatever was lost is counted exactly.
    expect(Number(promote.rows) + Number(promote.rowsLost)).toBe(1000);
    expect(await standby.sql('select count(*) from drctl_failover_drill')).toBe(String(Number(promote.rows) + 1));
    expect(report.steps.find((s) => s.id === 'dns')?.outputs).toMatchObject({ previousValue: '127.0.0.1' });
    expect(cf.records.find((x) => x.id === 'rec-db')?.content).toBe('127.0.0.2');
    expect(await standby.sql('select pg_is_in_recovery()')).toBe('f');
    expect(r.all).not.toContain(PASSWORD);
    expect(r.all).not.toContain(cf.token);
    expect(readFileSync(out, 'utf8')).not.toContain(PASSWORD);
  });
});

describe('failover drill with a standby built from the repository', () => {
  let pg: PgServer;
  let repo: string;
  let repoDir: string;
  let root: string;
  let standbyDir: string | undefined;

  beforeAll(async () => {
    root = ownedByPostgres(tempDir('drctl-failover-repo-drill-'));
    ({ pg, repo, repoDir } = await startArchivingPostgres());
    await pg.sql('create table drctl_failover_drill (id bigserial primary key, run text not null, at timestamptz not null default clock_timestamp())');
    const b = await drctl(['backup', '--type', 'base', '--source', pg.url(), '--repo', repo]);
    expect(b.code, b.all).toBe(0);
    await pg.sql("insert into drctl_failover_drill (run) select 'archived' from generate_series(1, 50)");
    await switchAndWaitArchived(pg, repoDir);
  }, 180_000);
  afterAll(async () => {
    if (standbyDir) {
      const { execFileSync } = await import('node:child_process');
      const { asPostgres } = await import('../support/postgres.js');
      const [cmd, argv] = asPostgres('pg_ctl', ['-D', standbyDir, '-m', 'immediate', '-w', 'stop']);
      try {
        execFileSync(cmd, argv, { stdio: 'ignore' });
      } catch {
        // not running
      }
    }
    await destroyPostgres(pg);
    rmSync(root, { recursive: true, force: true });
    rmSync(repoDir, { recursive: true, force: true });
  });

  it('builds the standby from the repository, streams, promotes after the loss and counts the rows', async () => {
    standbyDir = path.join(root, 'standby');
    const port = await freePort();
    const out = path.join(root, 'drill.json');
    const vars = { primary: pg.url(), primaryDataDir: pg.dataDir, standby: pg.url().replace(`:${pg.port}/`, `:${port}/`), standbyDir, standbyPort: String(port), repo, trafficRows: '500' };
    const r = await drctl(['--log-format', 'pretty', 'drill', path.join(RUNBOOKS, 'failover-drill.yaml'), ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}=${v}`]), '--report', out], {
      env: { DRCTL_STATE_DIR: path.join(root, 'state') },
      cwd: root,
    });
    expect(r.code, r.all).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as DrillReport;
    expect(report.steps.find((s) => s.id === 'build-standby')?.outputs).toMatchObject({ started: true, replaying: true, streaming: true });
    expect(report.steps.filter((s) => s.status !== 'succeeded').map((s) => s.id)).toEqual(['dns', 'dns-check']);
    const promote = report.steps.find((s) => s.id === 'promote')?.outputs ?? {};
    expect(promote).toMatchObject({ promoted: true, timeline: 2, primaryReachable: false });
    expect(Number(promote.rows) + Number(promote.rowsLost)).toBe(550);
    expect(report.verdicts.map((v) => [v.name, v.met])).toEqual([
      ['rto', true],
      ['rpo', true],
    ]);
    expect(r.all).not.toContain(pg.password);
  });
});
