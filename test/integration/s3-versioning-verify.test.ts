import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PutBucketLifecycleConfigurationCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drctl, tempDir, type CliResult } from '../support/cli.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';
import { startS3, type S3Server } from '../support/s3.js';

// s3.versioning.check in verify-backups and health, through the real CLI against moto:
// versioning on passes, off and suspended fail, a lifecycle rule expiring old versions sooner
// than the promised retention fails; unconfigured shows as skipped. Failures set the exit
// code and show in --json and the metrics file; no secret reaches any of them.

const AWS_SECRET = 'aws-canary-secret-8817-vvv';
const SUPABASE_TOKEN = 'sbp_canary_token_4471_vvv';
const RENDER_KEY = 'rnd_canary_key_9032_vvv';
const AWS_SESSION = 'aws-canary-session-8817-vvv';
const CANARIES = [AWS_SECRET, AWS_SESSION, SUPABASE_TOKEN, RENDER_KEY];

interface Check {
  name: string;
  status: string;
  figure: string;
}

describe('s3 versioning in verify-backups and health (moto)', () => {
  let s3srv: S3Server;
  let s3: S3Client;
  let pg: PgServer;
  let root: string;
  let repo: string;
  const outputs: string[] = [];
  /** Nothing configured but what each test names; every secret a canary. */
  const env = (extra: Record<string, string | undefined> = {}) => ({
    ...s3srv.env,
    AWS_SECRET_ACCESS_KEY: AWS_SECRET,
    AWS_SESSION_TOKEN: AWS_SESSION,
    SUPABASE_ACCESS_TOKEN: SUPABASE_TOKEN,
    RENDER_API_KEY: RENDER_KEY,
    DATABASE_URL: undefined,
    REDIS_URL: undefined,
    HEALTH_URL: undefined,
    TWILIO_ACCOUNT_SID: undefined,
    VAPI_API_KEY: undefined,
    DRCTL_REPO: undefined,
    DRCTL_VERSIONED_BUCKET: undefined,
    DRCTL_NOTIFY_WEBHOOK: undefined,
    ONCALL_PHONE: undefined,
    ...extra,
  });
  const run = async (args: string[], extra: Record<string, string | undefined> = {}, cwd?: string): Promise<CliResult> => {
    const r = await drctl(args, { env: env(extra), cwd });
    outputs.push(r.all);
    return r;
  };
  const checksOf = (r: CliResult) => JSON.parse(r.stdout).checks as Check[];
  const bucketCheck = (r: CliResult) => checksOf(r).find((c) => c.name === 's3-versioning');

  beforeAll(async () => {
    root = tempDir('drctl-s3check-');
    s3srv = await startS3();
    s3 = new S3Client({ endpoint: s3srv.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing-secret-key' } });
    for (const b of ['kept', 'plain', 'paused', 'short']) await s3srv.createBucket(b);
    for (const b of ['kept', 'paused', 'short']) await s3.send(new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'paused', VersioningConfiguration: { Status: 'Suspended' } }));
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: 'short',
        LifecycleConfiguration: { Rules: [{ ID: 'old-versions', Status: 'Enabled', Filter: { Prefix: 'uploads/' }, NoncurrentVersionExpiration: { NoncurrentDays: 7 } }] },
      }),
    );
    pg = await startPostgres();
    await pg.sql('create database app');
    await pg.sql('create table t (id int primary key); insert into t select generate_series(1, 10)', 'app');
    repo = `file://${path.join(root, 'repo')}`;
    const b = await drctl(['backup', '--source', pg.url('app'), '--repo', repo], { env: env() });
    expect(b.code, b.all).toBe(0);
  });
  afterAll(async () => {
    s3?.destroy();
    await s3srv?.stop();
    await destroyPostgres(pg);
    rmSync(root, { recursive: true, force: true });
  });

  it('verify-backups shows the check as skipped when no bucket is configured', async () => {
    const r = await run(['verify-backups', '--repo', repo, '--json']);
    expect(r.code, r.all).toBe(0);
    expect(bucketCheck(r)).toMatchObject({ status: 'skip', figure: expect.stringContaining('not configured (set --s3-bucket') });
  });

  it('verify-backups passes a versioned bucket and fails one without versioning, in --json, the table and the metrics file', async () => {
    const metrics = path.join(root, 'verify.prom');
    const ok = await run(['verify-backups', '--repo', repo, '--s3-bucket', 's3://kept/uploads', '--metrics-file', metrics, '--json']);
    expect(ok.code, ok.all).toBe(0);
    expect(bucketCheck(ok)).toMatchObject({ status: 'pass', figure: 's3://kept/uploads/: versioning Enabled, old versions kept until deleted' });
    expect(readFileSync(metrics, 'utf8')).toMatch(/drctl_verify_check_ok\{repo="[^"]+",check="s3-versioning"\} 1/);

    for (const [bucket, why] of [['plain', 'versioning is not enabled'], ['paused', 'versioning is suspended']]) {
      const bad = await run(['verify-backups', '--repo', repo, '--s3-bucket', `s3://${bucket}/uploads`, '--metrics-file', metrics, '--json']);
      expect(bad.code, bad.all).toBe(1);
      expect(bucketCheck(bad)).toMatchObject({ status: 'fail', figure: `s3://${bucket}/uploads/: ${why}` });
      expect(checksOf(bad).filter((c) => c.status === 'fail').map((c) => c.name)).toEqual(['s3-versioning']);
      const prom = readFileSync(metrics, 'utf8');
      expect(prom).toMatch(/drctl_verify_check_ok\{repo="[^"]+",check="s3-versioning"\} 0/);
      expect(prom).toMatch(/drctl_verify_ok\{repo="[^"]+"\} 0/);
      outputs.push(prom);
    }
    const table = await run(['verify-backups', '--repo', repo, '--s3-bucket', 's3://plain/uploads']);
    expect(table.code, table.all).toBe(1);
    expect(table.stdout).toMatch(/s3-versioning\s+FAIL\s+s3:\/\/plain\/uploads\/: versioning is not enabled/);
  });

  it('a lifecycle rule expiring old versions sooner than the promised retention fails; drctl.yaml configures it, flags override', async () => {
    const cwd = tempDir('drctl-s3check-cwd-');
    writeFileSync(path.join(cwd, 'drctl.yaml'), `repo: ${repo}\nversionedBucket: s3://short/uploads\nversionRetention: 30d\n`);
    const report = path.join(cwd, 'report.json');
    const bad = await run(['--report', report, 'verify-backups', '--json'], {}, cwd);
    expect(bad.code, bad.all).toBe(1);
    expect(bucketCheck(bad)?.figure).toBe('s3://short/uploads/: a lifecycle rule expires old versions after 7 day(s), fewer than the 30 required');
    outputs.push(readFileSync(report, 'utf8'));
    const ok = await run(['verify-backups', '--json', '--s3-retention', '7d'], {}, cwd);
    expect(ok.code, ok.all).toBe(0);
    expect(bucketCheck(ok)).toMatchObject({ status: 'pass', figure: 's3://short/uploads/: versioning Enabled, old versions expire after 7 day(s) (7 promised)' });
    // A prefix the rule does not cover keeps its versions.
    const other = await run(['verify-backups', '--json', '--s3-bucket', 's3://short/media'], {}, cwd);
    expect(other.code, other.all).toBe(0);
    expect(bucketCheck(other)?.status).toBe('pass');
    rmSync(cwd, { recursive: true, force: true });
  });

  it('refuses a bucket that is not an s3:// URL and a retention that is not a duration (exit 2, one line)', async () => {
    for (const [flag, value, says] of [['--s3-bucket', 'kept/uploads', 'expected s3://bucket/prefix'], ['--s3-retention', 'a month', 'is not a duration']]) {
      const r = await run(['verify-backups', '--repo', repo, flag!, value!]);
      expect(r.code, r.all).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(flag);
      expect(r.stderr).toContain(says);
    }
  });

  it('health checks the bucket from DRCTL_VERSIONED_BUCKET or drctl.yaml, fails without versioning, shows it skipped when unset', async () => {
    const rows = (r: CliResult) => JSON.parse(r.stdout).checks as { service: string; check: string; status: string; figure: string }[];
    const s3row = (r: CliResult) => rows(r).find((x) => x.check === 's3.versioning.check');

    const ok = await run(['health', '--json'], { DRCTL_VERSIONED_BUCKET: 's3://kept/uploads' });
    expect(ok.code, ok.all).toBe(0);
    expect(s3row(ok)).toMatchObject({ service: 'S3 versioning', status: 'ok', figure: 's3://kept/uploads/: versioning Enabled, old versions kept until deleted' });

    const bad = await run(['health', '--json'], { DRCTL_VERSIONED_BUCKET: 's3://plain/uploads' });
    expect(bad.code, bad.all).toBe(1);
    expect(s3row(bad)).toMatchObject({ status: 'FAIL', figure: expect.stringContaining('s3://plain/uploads/: versioning is not enabled') });

    const cwd = tempDir('drctl-s3check-cwd-');
    writeFileSync(path.join(cwd, 'drctl.yaml'), `versionedBucket: s3://short/uploads\nversionRetention: 30d\n`);
    const short = await run(['health'], {}, cwd);
    expect(short.code, short.all).toBe(1);
    expect(short.stdout).toMatch(/S3 versioning\s+s3\.versioning\.check\s+FAIL\s+.*fewer than the 30 required/);

    const unset = await run(['health', '--json'], { DRCTL_REPO: repo });
    expect(unset.code, unset.all).toBe(0);
    expect(s3row(unset)).toMatchObject({ status: 'skipped', figure: 'not configured (set DRCTL_VERSIONED_BUCKET or versionedBucket: in drctl.yaml or --var bucket=...)' });
    rmSync(cwd, { recursive: true, force: true });
  });

  it('no secret appears in any output, report, metrics file or the verification history', () => {
    const history = path.join(root, 'repo', 'history', 'verify');
    for (const f of readdirSync(history)) outputs.push(readFileSync(path.join(history, f), 'utf8'));
    expect(outputs.join('\n')).toMatch(/"name": ?"s3-versioning"/);
    expect(outputs.length).toBeGreaterThan(10);
    for (const out of outputs) for (const c of CANARIES) expect(out).not.toContain(c);
  });
});
