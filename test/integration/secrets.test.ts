import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/redact.js';
import { drctl, tempDir } from '../support/cli.js';

const CANARY_PW = 'Canary-pw-7f3a91';
const CANARY_TOKEN = 'canary-token-5be0c2d4';
const CANARY_INPUT = 'canary-input-0d9e11';

describe('redaction', () => {
  it('masks URL passwords, token query parameters, bearer tokens and registered values', () => {
    const r = new Redactor();
    r.add('s3cr3t-value');
    expect(r.redact('postgres://app:hunter22@db:5432/x')).toBe('postgres://app:***@db:5432/x');
    expect(r.redact('https://h/x?token=abcdef&x=1')).toBe('https://h/x?token=***&x=1');
    expect(r.redact('Authorization: Bearer abcdefghijklmnop')).toBe('Authorization: Bearer ***');
    expect(r.redact('failed with s3cr3t-value in it')).toBe('failed with *** in it');
    expect(r.redact("host=db password='x y' user=app")).toBe('host=db password=*** user=app');
    expect(r.redactDeep({ authToken: 'abc12345', nested: ['postgres://u:p4ssw0rd@h/db'] })).toEqual({
      authToken: '***',
      nested: ['postgres://u:***@h/db'],
    });
  });

  it('a canary secret never reaches stdout, stderr, reports or history', async () => {
    const dir = tempDir();
    const state = path.join(dir, 'state');
    const rb = path.join(dir, 'leak.yaml');
    writeFileSync(
      rb,
      [
        'apiVersion: drctl/v1',
        'name: leak',
        'inputs:',
        '  apikey: { secret: true, required: true }',
        'steps:',
        '  - id: echo-env',
        '    uses: shell.run',
        // drctl's own secrets reach a command only when the step names them in env:
        '    with: { command: "echo token=$TWILIO_AUTH_TOKEN url=$DATABASE_URL; echo ${env.TWILIO_AUTH_TOKEN} >&2", env: { TWILIO_AUTH_TOKEN: "${env.TWILIO_AUTH_TOKEN}", DATABASE_URL: "${env.DATABASE_URL}" } }',
        '  - id: echo-input',
        '    uses: shell.run',
        '    with: { command: "echo key ${inputs.apikey}; exit 1" }',
        '    onFailure: continue',
        '  - id: url-in-error',
        '    uses: http.check',
        `    with: { url: "http://user:${CANARY_PW}@127.0.0.1:9/x" }`,
        '    onFailure: continue',
      ].join('\n'),
    );
    const reports = ['r.json', 'r.md', 'r.xml'].map((f) => path.join(dir, f));
    const env = { DRCTL_STATE_DIR: state, TWILIO_AUTH_TOKEN: CANARY_TOKEN, DATABASE_URL: `postgres://app:${CANARY_PW}@127.0.0.1:1/app` };
    const outputs: string[] = [];
    for (const format of ['json', 'pretty']) {
      const r = await drctl(['--log-format', format, 'run', rb, '--var', `apikey=${CANARY_INPUT}`, ...reports.flatMap((f) => ['--report', f])], { env });
      expect(r.code).toBe(1);
      outputs.push(r.all);
      const plan = await drctl(['plan', rb, '--var', `apikey=${CANARY_INPUT}`], { env });
      outputs.push(plan.all);
    }
    for (const f of reports) outputs.push(readFileSync(f, 'utf8'));
    const histDir = path.join(state, 'history', 'runs');
    for (const f of readdirSync(histDir)) outputs.push(readFileSync(path.join(histDir, f), 'utf8'));
    const everything = outputs.join('\n');
    // The steps did run and print: the masks are there, the canaries are not.
    expect(everything).toContain('token=***');
    expect(everything).toContain('key ***');
    for (const canary of [CANARY_PW, CANARY_TOKEN, CANARY_INPUT]) expect(everything).not.toContain(canary);
  });

  it('shell.run inherits no provider secret or webhook; env: passes one, still masked in output', async () => {
    const dir = tempDir();
    const rb = path.join(dir, 'env.yaml');
    writeFileSync(
      rb,
      [
        'apiVersion: drctl/v1',
        'name: env',
        'steps:',
        '  - id: inherited',
        '    uses: shell.run',
        // Filtered so the step's output stays short enough to be kept whole in the report.
        '    with: { command: "env | grep -E \'TOKEN|KEY|WEBHOOK|_URL|HARMLESS\'" }',
        '  - id: passed',
        '    uses: shell.run',
        '    with: { command: "printf \'hook=%s\\n\' \\"$SLACK_WEBHOOK_URL\\" > hook.txt; cat hook.txt", env: { SLACK_WEBHOOK_URL: "${env.SLACK_WEBHOOK_URL}" } }',
        '  - id: webhook-in-error',
        '    uses: http.check',
        '    with: { url: "${env.DRCTL_NOTIFY_WEBHOOK}" }',
        '    onFailure: continue',
      ].join('\n'),
    );
    const canaries: Record<string, string> = {
      SUPABASE_ACCESS_TOKEN: 'canary-supabase-6a1f',
      RENDER_API_KEY: 'canary-render-2b7e',
      CLOUDFLARE_API_TOKEN: 'canary-cloudflare-9c3d',
      PAGERDUTY_ROUTING_KEY: 'canary-pagerduty-4e8a',
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T00/B00/canarySlackHook5f0b',
      DRCTL_NOTIFY_WEBHOOK: 'http://127.0.0.1:9/hooks/canaryNotifyHook7d2c',
      SUPABASE_DB_URL: 'postgresql://postgres:canary-dbpw-1e9f@db.example.invalid:5432/postgres',
      STATUSPAGE_API_KEY: 'canary-statuspage-8b4c',
    };
    const report = path.join(dir, 'r.json');
    const r = await drctl(['--log-format', 'pretty', 'run', rb, '--report', report], { env: { ...canaries, HARMLESS_SETTING: 'still-here' }, cwd: dir });
    expect(r.code, r.all).toBe(1);
    const everything = r.all + readFileSync(report, 'utf8');
    for (const [name, v] of Object.entries(canaries)) {
      expect(everything, name).not.toContain(v);
      expect(everything, name).not.toMatch(/canary[A-Za-z]*Hook|canary-dbpw/);
    }
    for (const name of Object.keys(canaries)) expect(everything, name).not.toContain(`${name}=`);
    // The env step did print (the harmless variable shows), the passed one ran, the http step failed.
    expect(everything).toContain('HARMLESS_SETTING=still-here');
    expect(everything).toContain('hook=***');
    expect(everything).toMatch(/webhook-in-error.*GET \*\*\*/);
    // The command got the value itself: only drctl's output is masked.
    expect(readFileSync(path.join(dir, 'hook.txt'), 'utf8')).toBe(`hook=${canaries.SLACK_WEBHOOK_URL}\n`);
  });

  it('a password in an s3:// --repo URL is refused in one line that does not repeat it, on every entry', async () => {
    const dir = tempDir();
    const seg = path.join(dir, '000000010000000000000001');
    writeFileSync(seg, Buffer.alloc(1024));
    // A secret key with '/' in it, as AWS keys often have.
    for (const url of [`s3://minio:${CANARY_PW}@backups/db1`, `s3://AKIAEXAMPLE:${CANARY_PW}/x/${CANARY_PW}@backups/db1`])
    for (const args of [
      ['backups', 'list', '--repo', url],
      ['wal-push', '--repo', url, seg],
      ['--log-level', 'error', 'wal-push', '--repo', url, seg],
    ]) {
      const r = await drctl(args, { cwd: dir });
      expect(r.code, r.all).toBe(2);
      expect(r.stderr).toMatch(/^drctl: --repo s3:\/\/…: an s3:\/\/ URL takes no user or password .*AWS_ACCESS_KEY_ID/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.all).not.toContain(CANARY_PW);
    }
  });
});
