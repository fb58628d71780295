import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { startFakeCloudflare, type FakeCloudflare } from '../support/fake-providers.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';
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
