import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import {
  startFakeCloudflare,
  startFakePagerDuty,
  startFakeSlack,
  startFakeStatuspage,
  type FakeCloudflare,
  type FakePagerDuty,
  type FakeSlack,
  type FakeStatuspage,
} from '../support/fake-providers.js';
import { startS3, type S3Server } from '../support/s3.js';

const RUNBOOKS = path.resolve(import.meta.dirname, '..', '..', 'runbooks');

// The failover steps that talk to providers: status pages, paging, DNS. The real client code
// runs against local servers that answer like the APIs (and moto for Route 53).

describe('failover providers: statuspage.check, pagerduty.event, slack.post, dns.update, dns.check', () => {
  let root: string;
  let status: FakeStatuspage;
  let pd: FakePagerDuty;
  let slack: FakeSlack;
  let cf: FakeCloudflare;
  let dns: DnsServer;

  beforeAll(async () => {
    root = tempDir('drctl-failover-');
    [status, pd, slack, cf, dns] = await Promise.all([startFakeStatuspage(), startFakePagerDuty(), startFakeSlack(), startFakeCloudflare(), startDnsServer()]);
  });
  afterAll(async () => {
    await Promise.all([status.stop(), pd.stop(), slack.stop(), cf.stop(), dns.stop()]);
    rmSync(root, { recursive: true, force: true });
  });

  let n = 0;
  function runbook(body: string): string {
    const file = path.join(root, `rb-${++n}.yaml`);
    writeFileSync(file, `apiVersion: drctl/v1\nname: fo\n${body}`);
    return file;
  }
  async function run(file: string, env: Record<string, string> = {}, args: string[] = []) {
    const report = path.join(root, `report-${++n}.json`);
    const state = path.join(root, `state-${n}`);
    const r = await drctl(['--log-format', 'pretty', 'run', file, '--report', report, ...args], { env: { DRCTL_STATE_DIR: state, ...env }, cwd: root });
    let json: { steps: { id: string; status: string; outputs: Record<string, unknown> }[] } | undefined;
    try {
      json = JSON.parse(readFileSync(report, 'utf8')) as typeof json;
    } catch {
      json = undefined;
    }
    return { ...r, report: json, out: (id: string) => json?.steps.find((s) => s.id === id)?.outputs ?? {} };
  }

  it('statuspage.check: operational passes; degraded components are listed; failOn decides whether minor or major fails; a non-Statuspage URL is one line', async () => {
    const check = (failOn?: string) => runbook(`steps:\n  - id: s\n    uses: statuspage.check\n    with: { url: "${status.baseUrl}", name: Acme${failOn ? `, failOn: ${failOn}` : ''} }\n`);
    status.components = [
      { name: 'SMS', status: 'operational' },
      { name: 'Voice', status: 'operational' },
    ];
    const ok = await run(check());
    expect(ok.code).toBe(0);
    expect(ok.out('s')).toMatchObject({ indicator: 'none', description: 'All Systems Operational', degraded: [] });

    status.indicator = 'minor';
    status.description = 'Minor Service Outage';
    status.components = [
      { name: 'SMS', status: 'degraded_performance' },
      { name: 'Voice', status: 'operational' },
      { name: 'Messaging', status: 'degraded_performance', group: true },
    ];
    const minor = await run(check());
    expect(minor.code).toBe(0);
    expect(minor.out('s')).toMatchObject({ indicator: 'minor', degraded: [{ name: 'SMS', status: 'degraded_performance' }] });
    const strict = await run(check('minor'));
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('Acme reports Minor Service Outage: SMS degraded_performance');

    status.indicator = 'major';
    status.description = 'Partial System Outage';
    status.components = [
      { name: 'SMS', status: 'partial_outage' },
      { name: 'Voice', status: 'major_outage' },
    ];
    const major = await run(check());
    expect(major.code).toBe(1);
    expect(major.stderr).toContain('Acme reports Partial System Outage: SMS partial_outage, Voice major_outage');
    expect((await run(check('none'))).code).toBe(0);

    const notStatuspage = await run(runbook(`steps:\n  - id: s\n    uses: statuspage.check\n    with: { url: "${cf.baseUrl}" }\n`));
    expect(notStatuspage.code).toBe(1);
    expect(notStatuspage.stderr).toMatch(/status page answered 403/);
    expect(notStatuspage.stderr).not.toContain('    at ');
    status.indicator = 'none';
    status.description = 'All Systems Operational';
    status.components = [];
  });

  it('runbooks/status-check.yaml checks every provider page in parallel and fails only on the one in a major outage', async () => {
    const vars = ['twilio', 'render', 'supabase', 'vercel'].flatMap((p) => ['--var', `${p}=${status.baseUrl}`]);
    const fine = await run(path.join(RUNBOOKS, 'status-check.yaml'), {}, vars);
    expect(fine.code).toBe(0);
    expect(fine.report?.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);

    const down = await startFakeStatuspage();
    try {
      down.indicator = 'critical';
      down.description = 'Major System Outage';
      down.components = [{ name: 'Web Services', status: 'major_outage' }];
      const r = await run(path.join(RUNBOOKS, 'status-check.yaml'), {}, [...vars.slice(0, 6), '--var', `vercel=${down.baseUrl}`]);
      expect(r.code).toBe(1);
      expect(r.report?.steps.map((s) => `${s.id}:${s.status}`)).toEqual(['twilio:succeeded', 'render:succeeded', 'supabase:succeeded', 'vercel:failed']);
      expect(r.stderr).toContain('Vercel reports Major System Outage: Web Services major_outage');
    } finally {
      await down.stop();
    }
  });

  it('pagerduty.event: trigger, acknowledge and resolve share a dedup key; notify: pages a failed run and resolves on the next success; the routing key never shows', async () => {
    const env = { PAGERDUTY_API_URL: pd.baseUrl, PAGERDUTY_ROUTING_KEY: pd.routingKey };
    const steps = runbook(
      'steps:\n' +
        '  - id: t\n    uses: pagerduty.event\n    with: { action: trigger, summary: "primary lost", dedupKey: db-failover, severity: critical, details: { region: eu } }\n' +
        '  - id: a\n    uses: pagerduty.event\n    with: { action: acknowledge, dedupKey: "${steps.t.outputs.dedupKey}" }\n',
    );
    const r = await run(steps, env);
    expect(r.code).toBe(0);
    expect(r.out('t')).toEqual({ dedupKey: 'db-failover', status: 'success' });
    expect(pd.open.get('db-failover')).toBe('acknowledged');
    expect(pd.events[0]).toMatchObject({ event_action: 'trigger', payload: { summary: 'primary lost', source: 'drctl', severity: 'critical', custom_details: { region: 'eu' } } });
    expect(r.all).not.toContain(pd.routingKey);

    // notify: pagerduty pages when the run fails and resolves the same incident when it succeeds.
    const flag = path.join(root, 'fail-flag');
    writeFileSync(flag, '');
    const notify = runbook(`steps:\n  - id: s\n    uses: shell.run\n    with: { command: "test ! -e ${flag}" }\nnotify:\n  - when: always\n    pagerduty: true\n`);
    const failed = await run(notify, env);
    expect(failed.code).toBe(1);
    expect(pd.open.get('drctl-fo')).toBe('triggered');
    expect(pd.events.at(-1)?.payload?.summary).toMatch(/^drctl fo failed in /);
    rmSync(flag);
    const fixed = await run(notify, env);
    expect(fixed.code).toBe(0);
    expect(pd.open.has('drctl-fo')).toBe(false);
    expect(pd.events.at(-1)).toMatchObject({ event_action: 'resolve', dedup_key: 'drctl-fo' });
    for (const x of [failed, fixed]) expect(x.all).not.toContain(pd.routingKey);

    const badKey = 'pd-wrong-key-canary-8813';
    const bad = await run(steps, { ...env, PAGERDUTY_ROUTING_KEY: badKey });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('PagerDuty trigger: 400 Invalid routing key');
    expect(bad.all).not.toContain(badKey);
    expect(JSON.stringify(bad.report)).not.toContain(badKey);
  });

  it('slack.post: blocks carry status, elapsed and RTO; notify: slack posts at the end of the run; the webhook token never shows', async () => {
    const token = new URL(slack.webhookUrl).pathname.split('/').at(-1) as string;
    const env = { SLACK_WEBHOOK_URL: slack.webhookUrl };
    const r = await run(runbook('steps:\n  - id: p\n    uses: slack.post\n    with: { title: "failover drill", text: "promoted standby", status: succeeded, rto: "4m 10s (target 15m)", rpo: "0 rows" }\nnotify:\n  - when: always\n    slack: true\n'), env);
    expect(r.code).toBe(0);
    expect(slack.posts).toHaveLength(2);
    const [post, notified] = slack.posts;
    expect(post?.text).toBe('promoted standby');
    const blocks = JSON.stringify(post?.blocks);
    expect(blocks).toContain('"type":"header"');
    expect(blocks).toContain('*RTO*\\n4m 10s (target 15m)');
    expect(blocks).toContain('*Status*\\nsucceeded');
    expect(notified?.text).toMatch(/^drctl fo succeeded in /);
    expect(JSON.stringify(notified?.blocks)).toContain('*Status*\\nsucceeded');
    expect(r.all).not.toContain(token);
    expect(JSON.stringify(r.report)).not.toContain(token);

    const wrong = `${slack.baseUrl}/services/T0000/B0000/wrongcanary55aa`;
    const bad = await run(runbook('steps:\n  - id: p\n    uses: slack.post\n    with: { text: hi }\n'), { SLACK_WEBHOOK_URL: wrong });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Slack webhook answered 403: invalid_token');
    expect(bad.all).not.toContain('wrongcanary55aa');
  });

  it('dns.update on Cloudflare: updates the record in place and reads it back, outputs the previous value for a rollback step, creates a missing record; a bad token is one line without the token', async () => {
    cf.records.push({ id: 'rec-existing', type: 'A', name: 'db.example.com', content: '10.0.0.1', ttl: 300, proxied: false });
    const env = { CLOUDFLARE_API_URL: cf.apiUrl, CLOUDFLARE_API_TOKEN: cf.token };
    const rb = runbook(
      'steps:\n' +
        '  - id: switch\n    uses: dns.update\n    with: { provider: cloudflare, zone: example.com, name: db, type: A, value: 10.0.0.2, ttl: 60 }\n' +
        '  - id: back\n    uses: dns.update\n    with: { provider: cloudflare, zone: example.com, name: db, type: A, value: "${steps.switch.outputs.previousValue}", ttl: "${steps.switch.outputs.previousTtl}" }\n' +
        '  - id: new\n    uses: dns.update\n    with: { provider: cloudflare, zone: example.com, name: replica.example.com, type: TXT, value: "role=standby" }\n',
    );
    const r = await run(rb, env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.out('switch')).toMatchObject({ name: 'db.example.com', previousValue: '10.0.0.1', previousTtl: 300, changeId: 'rec-existing' });
    expect(r.out('back')).toMatchObject({ previousValue: '10.0.0.2', previousTtl: 60 });
    expect(cf.records.find((x) => x.id === 'rec-existing')).toMatchObject({ content: '10.0.0.1', ttl: 300 });
    expect(cf.records.find((x) => x.name === 'replica.example.com')).toMatchObject({ type: 'TXT', content: 'role=standby' });
    expect(r.out('new')).toMatchObject({ previousValue: '', previousTtl: null });
    expect(cf.calls).toContain(`PATCH /client/v4/zones/${cf.zone.id}/dns_records/rec-existing`);
    expect(cf.calls).toContain(`GET /client/v4/zones/${cf.zone.id}/dns_records/rec-existing`);
    expect(r.all).not.toContain(cf.token);

    const badToken = 'cf-wrong-token-canary-2f9e';
    const bad = await run(rb, { ...env, CLOUDFLARE_API_TOKEN: badToken });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Cloudflare zone lookup: the API token was rejected (403: 9109 Invalid access token)');
    expect(bad.all).not.toContain(badToken);
    expect(JSON.stringify(bad.report)).not.toContain(badToken);

    const noZone = await run(runbook('steps:\n  - id: s\n    uses: dns.update\n    with: { provider: cloudflare, zone: other.org, name: db, value: 10.0.0.9 }\n'), env);
    expect(noZone.code).toBe(2);
    expect(noZone.stderr).toContain('the Cloudflare token sees no zone other.org');
  });

  it('dns.check: resolves against the given resolver and compares; a mismatch names both values; TXT records compare too', async () => {
    dns.records.set('db.example.test', { A: ['10.0.0.1'], TXT: ['primary=', 'eu-1'] });
    const check = (expected: string, type = 'A') => runbook(`steps:\n  - id: c\n    uses: dns.check\n    with: { name: db.example.test, type: ${type}, expected: "${expected}", resolver: "${dns.address}" }\n`);
    const ok = await run(check('10.0.0.1'));
    expect(ok.code).toBe(0);
    expect(ok.out('c')).toMatchObject({ values: ['10.0.0.1'], matches: true });
    // The switch lands: the same check against a new expectation.
    dns.records.set('db.example.test', { A: ['10.0.0.2'], TXT: ['primary=eu-2'] });
    const stale = await run(check('10.0.0.1'));
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain(`db.example.test A at ${dns.address} is 10.0.0.2, expected 10.0.0.1`);
    expect((await run(check('primary=eu-2', 'TXT'))).code).toBe(0);
    const missing = await run(runbook(`steps:\n  - id: c\n    uses: dns.check\n    with: { name: nothing.example.test, expected: 10.0.0.2, resolver: "${dns.address}" }\n`));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nothing.example.test A at');
    expect(missing.stderr).toContain('is not resolvable, expected 10.0.0.2');
    const badResolver = await run(runbook('steps:\n  - id: c\n    uses: dns.check\n    with: { name: db.example.test, resolver: "dns.google" }\n'));
    expect(badResolver.code).toBe(2);
    expect(badResolver.stderr).toContain('resolver "dns.google" is not an IP address');
  });
});

describe('dns.update on Route 53 (moto)', () => {
  let s3: S3Server;
  let root: string;
  beforeAll(async () => {
    s3 = await startS3();
    root = tempDir('drctl-r53-');
  });
  afterAll(async () => {
    await s3.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('reads the previous value, UPSERTs, waits for INSYNC and outputs the change id; a rollback step restores the old value; the secret key never shows', async () => {
    const secretKey = 'r53-secret-canary-7d41c0';
    const r53 = new Route53Client({ endpoint: s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: secretKey } });
    const zone = await r53.send(new CreateHostedZoneCommand({ Name: 'failover.test.', CallerReference: `drctl-${Date.now()}` }));
    const zoneId = (zone.HostedZone?.Id ?? '').replace('/hostedzone/', '');
    await r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: { Changes: [{ Action: 'CREATE', ResourceRecordSet: { Name: 'db.failover.test.', Type: 'A', TTL: 300, ResourceRecords: [{ Value: '10.1.0.1' }] } }] },
      }),
    );
    const rb = path.join(root, 'r53.yaml');
    writeFileSync(
      rb,
      'apiVersion: drctl/v1\nname: r53\nsteps:\n' +
        '  - id: switch\n    uses: dns.update\n    with: { provider: route53, zone: failover.test, name: db, value: 10.1.0.2, ttl: 60, pollInterval: 100 }\n' +
        '  - id: txt\n    uses: dns.update\n    with: { provider: route53, zone: "' + zoneId + '", name: _role.failover.test, type: TXT, value: "primary=eu-2" }\n' +
        '  - id: back\n    uses: dns.update\n    with: { provider: route53, zone: failover.test, name: db, value: "${steps.switch.outputs.previousValues}", ttl: "${steps.switch.outputs.previousTtl}" }\n',
    );
    const report = path.join(root, 'r.json');
    const env = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: secretKey, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_ROUTE_53: s3.endpoint, DRCTL_STATE_DIR: path.join(root, 'state') };
    const r = await drctl(['--log-format', 'pretty', 'run', rb, '--report', report], { env, cwd: root });
    expect(r.code, r.stderr).toBe(0);
    const steps = (JSON.parse(readFileSync(report, 'utf8')) as { steps: { id: string; outputs: Record<string, unknown> }[] }).steps;
    const out = (id: string) => steps.find((s) => s.id === id)?.outputs ?? {};
    expect(out('switch')).toMatchObject({ name: 'db.failover.test', previousValue: '10.1.0.1', previousTtl: 300, status: 'INSYNC' });
    expect(String(out('switch').changeId)).toMatch(/\S/);
    expect(out('txt')).toMatchObject({ previousValue: '', status: 'INSYNC' });
    expect(out('back')).toMatchObject({ previousValue: '10.1.0.2', previousTtl: 60 });
    const sets = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    const a = sets.ResourceRecordSets?.find((x) => x.Name === 'db.failover.test.' && x.Type === 'A');
    expect(a?.ResourceRecords?.map((x) => x.Value)).toEqual(['10.1.0.1']);
    expect(a?.TTL).toBe(300);
    expect(sets.ResourceRecordSets?.find((x) => x.Type === 'TXT')?.ResourceRecords?.[0]?.Value).toBe('"primary=eu-2"');
    expect(r.all).not.toContain(secretKey);
    expect(readFileSync(report, 'utf8')).not.toContain(secretKey);

    const other = path.join(root, 'other.yaml');
    writeFileSync(other, 'apiVersion: drctl/v1\nname: r53\nsteps:\n  - id: s\n    uses: dns.update\n    with: { provider: route53, zone: nowhere.test, name: db, value: 10.1.0.3 }\n');
    const noZone = await drctl(['--log-format', 'pretty', 'run', other], { env, cwd: root });
    expect(noZone.code).toBe(2);
    expect(noZone.stderr).toContain('Route 53 has no hosted zone nowhere.test');
    r53.destroy();
  });
});
