import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir } from '../support/cli.js';
import { startFakeTwilio, startWebhook, type FakeTwilio } from '../support/fake-twilio.js';
import { startFakeVapi, type FakeVapi } from '../support/fake-vapi.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const WEBHOOK = 'https://app.example.com/webhooks/twilio/voice';

describe('Twilio, Vapi, notifications and drctl health', () => {
  let twilio: FakeTwilio;
  let vapi: FakeVapi;
  let pg: PgServer;
  let redis: RedisServer;
  let app: http.Server;
  let appUrl: string;

  beforeAll(async () => {
    [twilio, vapi, pg, redis] = await Promise.all([startFakeTwilio(), startFakeVapi(), startPostgres({ password: 'pg-canary-pw-3318' }), startRedis({ password: 'redis-canary-pw-8870' })]);
    twilio.numbers.push({ sid: 'PN1', phoneNumber: '+15005550006', voiceUrl: WEBHOOK, smsUrl: 'https://app.example.com/webhooks/twilio/sms' });
    vapi.assistants.asst_1 = { serverUrl: 'https://app.example.com/webhooks/vapi' };
    vapi.phoneNumbers.push('pn_1');
    app = http.createServer((req, res) => {
      res.writeHead(req.url === '/health' ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: req.url === '/health' ? 'ok' : 'down' }));
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await Promise.all([twilio.stop(), vapi.stop(), destroyPostgres(pg), redis.stop(), new Promise((r) => app.close(r))]);
  });

  const env = () => ({
    TWILIO_ACCOUNT_SID: twilio.accountSid,
    TWILIO_AUTH_TOKEN: twilio.authToken,
    TWILIO_API_BASE_URL: twilio.baseUrl,
    VAPI_API_KEY: vapi.apiKey,
    VAPI_BASE_URL: vapi.baseUrl,
  });

  function runbook(steps: string): string {
    const file = path.join(tempDir(), 'rb.yaml');
    writeFileSync(file, `apiVersion: drctl/v1\nname: svc\nsteps:\n${steps}`);
    return file;
  }

  it('twilio.check: valid credentials pass; a wrong webhook names expected and actual; a 401 is one clear line; a slow API hits the timeout', async () => {
    const ok = runbook(`  - id: t\n    uses: twilio.check\n    with: { numbers: [{ phoneNumber: "+15005550006", voiceUrl: "${WEBHOOK}" }] }\n`);
    const out = path.join(tempDir(), 'r.json');
    expect((await drctl(['run', ok, '--report', out], { env: env() })).code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).steps[0].outputs.accountStatus).toBe('active');

    const wrong = runbook('  - id: t\n    uses: twilio.check\n    with: { numbers: [{ phoneNumber: "+15005550006", voiceUrl: "https://old.example.com/voice" }] }\n');
    const w = await drctl(['--log-format', 'pretty', 'run', wrong], { env: env() });
    expect(w.code).toBe(1);
    expect(w.stderr).toContain(`+15005550006 voice webhook is ${WEBHOOK}, expected https://old.example.com/voice`);

    const bad = await drctl(['--log-format', 'pretty', 'run', ok], { env: { ...env(), TWILIO_AUTH_TOKEN: 'canary-wrong-token-0042' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('t failed: Twilio account check: Twilio rejected the credentials (401, code 20003)');
    expect(bad.all).not.toContain('canary-wrong-token-0042');

    twilio.delayMs = 3000;
    try {
      const slow = runbook('  - id: t\n    uses: twilio.check\n    timeout: 500ms\n');
      const s = await drctl(['--log-format', 'pretty', 'run', slow], { env: env() });
      expect(s.code).toBe(1);
      expect(s.stderr).toContain('t failed: timed out after 500ms');
    } finally {
      twilio.delayMs = 0;
    }
  });

  it('vapi.check: assistants and numbers exist and point where expected; a bad key fails clearly', async () => {
    const ok = runbook('  - id: v\n    uses: vapi.check\n    with: { assistants: [{ id: asst_1, serverUrl: "https://app.example.com/webhooks/vapi" }], phoneNumbers: [pn_1] }\n');
    expect((await drctl(['run', ok], { env: env() })).code).toBe(0);
    const drift = runbook('  - id: v\n    uses: vapi.check\n    with: { assistants: [{ id: asst_1, serverUrl: "https://new.example.com/vapi" }, { id: asst_gone }], phoneNumbers: [pn_2] }\n');
    const d = await drctl(['--log-format', 'pretty', 'run', drift], { env: env() });
    expect(d.code).toBe(1);
    expect(d.stderr).toContain('assistant asst_1 server URL is https://app.example.com/webhooks/vapi, expected https://new.example.com/vapi; assistant asst_gone does not exist; phone number pn_2 does not exist');
    const bad = await drctl(['--log-format', 'pretty', 'run', ok], { env: { ...env(), VAPI_API_KEY: 'vapi-wrong-canary-77' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Vapi rejected the API key (401)');
    expect(bad.all).not.toContain('vapi-wrong-canary-77');
  });

  it('notify.webhook and twilio.sms deliver through the real client code', async () => {
    const hook = await startWebhook();
    try {
      const rb = runbook(
        `  - id: w\n    uses: notify.webhook\n    with: { url: "${hook.url}", text: "restore done", fields: { runbook: svc } }\n  - id: s\n    uses: twilio.sms\n    with: { to: "+447700900123", from: "+15005550006", body: "restore ${'${run.status}'}" }\n`,
      );
      const r = await drctl(['run', rb], { env: env() });
      expect(r.code, r.all).toBe(0);
      expect(hook.received).toEqual([{ text: 'restore done', runbook: 'svc' }]);
      expect(twilio.messages.at(-1)).toEqual({ to: '+447700900123', from: '+15005550006', body: 'restore running' });
    } finally {
      await hook.stop();
    }
  });

  it('a server that takes the request and never answers fails each HTTP step in one line after DRCTL_API_TIMEOUT', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = http.createServer(() => undefined);
    silent.on('connection', (c) => sockets.push(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const rb = runbook(
        [
          `  - id: h\n    uses: http.check\n    onFailure: continue\n    with: { url: "${url}/health" }\n`,
          `  - id: w\n    uses: notify.webhook\n    onFailure: continue\n    with: { url: "${url}/hook", text: "restore done" }\n`,
          `  - id: v\n    uses: vapi.check\n    onFailure: continue\n    with: { phoneNumbers: [pn_1] }\n`,
        ].join(''),
      );
      const out = path.join(tempDir(), 'r.json');
      const started = Date.now();
      const r = await drctl(['run', rb, '--report', out], { env: { ...env(), VAPI_BASE_URL: url, DRCTL_API_TIMEOUT: '300ms' } });
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(r.code, r.all).toBe(1);
      const steps = JSON.parse(readFileSync(out, 'utf8')).steps as { id: string; status: string; reason: string }[];
      expect(steps.map((x) => [x.id, x.status])).toEqual([['h', 'failed'], ['w', 'failed'], ['v', 'failed']]);
      for (const x of steps) expect(x.reason, x.id).toMatch(/no answer in 300ms/);
      expect(r.all).not.toContain(vapi.apiKey);
    } finally {
      for (const c of sockets) c.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('a runbook notify: block pages on failure only', async () => {
    const hook = await startWebhook();
    try {
      const write = (cmd: string) => {
        const file = path.join(tempDir(), 'rb.yaml');
        writeFileSync(file, `apiVersion: drctl/v1\nname: paged\nsteps:\n  - id: work\n    uses: shell.run\n    with: { command: "${cmd}" }\nnotify:\n  - when: failure\n    webhook: "${hook.url}"\n    sms: "+447700900123"\n`);
        return file;
      };
      const sent = twilio.messages.length;
      const withFrom = { ...env(), TWILIO_FROM_NUMBER: '+15005550006' };
      expect((await drctl(['run', write('true')], { env: withFrom })).code).toBe(0);
      expect(hook.received).toEqual([]);
      const r = await drctl(['run', write('exit 1')], { env: withFrom });
      expect(r.code).toBe(1);
      expect(hook.received).toHaveLength(1);
      expect(String(hook.received[0]!.text)).toMatch(/^drctl paged failed in \S+$/);
      expect(twilio.messages.length).toBe(sent + 1);
    } finally {
      await hook.stop();
    }
  });

  it('drctl health: a mix of healthy and broken services gives the right table and exit 1; secrets never printed', async () => {
    const repoDir = tempDir('drctl-health-repo-');
    const healthy = {
      ...env(),
      DATABASE_URL: pg.url(),
      REDIS_URL: redis.url,
      HEALTH_URL: `${appUrl}/health`,
    };
    const good = await drctl(['health', '--json'], { env: healthy });
    expect(good.code, good.all).toBe(0);
    const rows = JSON.parse(good.stdout).checks as { service: string; status: string; figure: string }[];
    expect(rows.map((r) => [r.service, r.status])).toEqual([
      ['PostgreSQL', 'ok'],
      ['Redis', 'ok'],
      ['App health endpoint', 'ok'],
      ['Twilio', 'ok'],
      ['Vapi', 'ok'],
      ['Backups', 'skipped'],
      ['S3 versioning', 'skipped'],
    ]);
    expect(rows[0]!.figure).toMatch(/^\d+\/50 connections, \d+ MB$/);

    const broken = await drctl(['health'], {
      env: { ...healthy, HEALTH_URL: `${appUrl}/down`, REDIS_URL: redis.url.replace('redis-canary-pw-8870', 'wrong-pw'), DRCTL_REPO: `file://${repoDir}`, VAPI_API_KEY: 'vapi-wrong-canary-77' },
    });
    expect(broken.code).toBe(1);
    const table = broken.stdout;
    expect(table).toMatch(/PostgreSQL\s+postgres\.health\s+ok/);
    expect(table).toMatch(/Redis\s+redis\.ping\s+FAIL\s+Redis at 127\.0\.0\.1:\d+ refused the credentials/);
    expect(table).toMatch(/App health endpoint\s+http\.check\s+FAIL\s+GET .*\/down: status 503, expected 200/);
    expect(table).toMatch(/Vapi\s+vapi\.check\s+FAIL\s+Vapi rejected the API key \(401\)/);
    expect(table).toMatch(/Backups\s+repo\.list\s+FAIL\s+.*not a drctl repository/);
    for (const canary of ['pg-canary-pw-3318', 'redis-canary-pw-8870', twilio.authToken, vapi.apiKey, 'vapi-wrong-canary-77']) {
      expect(good.all + broken.all, canary).not.toContain(canary);
    }
    // The history written for these runs holds no secret either.
    expect(readdirSync(repoDir)).toEqual([]);
  });
});
