import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { drctl, tempDir } from '../support/cli.js';
import { destroyPostgres, startPostgres, type PgServer } from '../support/postgres.js';

// examples/kubernetes: every object checked against the Kubernetes OpenAPI schemas (the
// validators kubernetes-models generates from them: types, enums, required fields, quantities),
// then against what running drctl there needs: concurrencyPolicy Forbid, non-root, resource
// requests and limits, every Secret and ConfigMap reference resolvable, one repository per
// database, an hourly verify and a nightly drill per database, and a drill runbook and config
// that drctl itself accepts.

const DIR = path.resolve(import.meta.dirname, '..', '..', 'examples', 'kubernetes');

type Obj = Record<string, any>;
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/ConfigMap': ConfigMap,
  'batch/v1/CronJob': CronJob,
};

function load(): Obj[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) =>
      parseAllDocuments(readFileSync(path.join(DIR, f), 'utf8')).map((d) => {
        if (d.errors.length) throw new Error(`${f}: ${d.errors[0]!.message}`);
        return d.toJS() as Obj;
      }),
    )
    .filter((o) => o !== null);
}

/** Schema and policy problems of a set of manifests; empty when they are fit to apply. */
function manifestProblems(objs: Obj[]): string[] {
  const problems: string[] = [];
  const id = (o: Obj) => `${o.kind}/${o.metadata?.name}`;
  for (const o of objs) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    if (!Model) {
      problems.push(`${id(o)}: no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (err) {
      problems.push(`${id(o)}: schema: ${(err as Error).message}`);
    }
  }
  if (problems.length) return problems;
  const secrets = new Map(objs.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, new Set(Object.keys({ ...o.data, ...o.stringData }))]));
  const configMaps = new Map(objs.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o]));
  const namespaces = new Set(objs.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
  for (const o of objs) if (o.kind !== 'Namespace' && !namespaces.has(o.metadata.namespace)) problems.push(`${id(o)}: namespace ${o.metadata.namespace} is not defined`);
  for (const cj of objs.filter((o) => o.kind === 'CronJob')) {
    const where = id(cj);
    if (cj.spec.concurrencyPolicy !== 'Forbid') problems.push(`${where}: concurrencyPolicy is not Forbid`);
    const pod = cj.spec.jobTemplate.spec.template.spec;
    if (pod.securityContext?.runAsNonRoot !== true) problems.push(`${where}: pod may run as root`);
    if (pod.securityContext?.runAsUser === 0) problems.push(`${where}: runAsUser 0`);
    for (const v of pod.volumes ?? []) if (v.configMap && !configMaps.has(v.configMap.name)) problems.push(`${where}: ConfigMap ${v.configMap.name} is not defined`);
    for (const c of pod.containers) {
      for (const kind of ['requests', 'limits']) for (const r of ['cpu', 'memory']) if (c.resources?.[kind]?.[r] === undefined) problems.push(`${where}: no ${r} ${kind}`);
      if (c.securityContext?.allowPrivilegeEscalation !== false) problems.push(`${where}: privilege escalation allowed`);
      for (const e of c.envFrom ?? []) if (e.secretRef && !secrets.has(e.secretRef.name)) problems.push(`${where}: Secret ${e.secretRef.name} is not defined`);
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref && !secrets.get(ref.name)?.has(ref.key)) problems.push(`${where}: ${e.name} refers to ${ref.name}/${ref.key}, which is not defined`);
      }
      const repo = (c.env ?? []).find((e: Obj) => e.name === 'DRCTL_REPO')?.value;
      if (!/^s3:\/\//.test(repo ?? '')) problems.push(`${where}: DRCTL_REPO is not an S3 repository`);
    }
  }
  return problems;
}

/** CronJobs by database and component (backup, verify, drill). */
function jobsByDatabase(objs: Obj[]): Map<string, Map<string, Obj>> {
  const out = new Map<string, Map<string, Obj>>();
  for (const cj of objs.filter((o) => o.kind === 'CronJob')) {
    const db = cj.metadata.labels['drctl/database'];
    if (!out.has(db)) out.set(db, new Map());
    out.get(db)!.set(cj.metadata.labels['app.kubernetes.io/component'], cj);
  }
  return out;
}

const container = (cj: Obj) => cj.spec.jobTemplate.spec.template.spec.containers[0] as Obj;
const envOf = (cj: Obj, name: string) => (container(cj).env as Obj[]).find((e) => e.name === name)?.value as string | undefined;

let root: string;
let pg: PgServer | undefined;
beforeAll(() => {
  root = tempDir('drctl-k8s-');
});
afterAll(async () => {
  await destroyPostgres(pg);
  if (root) rmSync(root, { recursive: true, force: true });
});

/** The ConfigMap's files in a directory standing in for its mount at /etc/drctl. */
function mountConfigMap(objs: Obj[]): string {
  const dir = path.join(root, 'etc-drctl');
  mkdirSync(dir, { recursive: true });
  const cm = objs.find((o) => o.kind === 'ConfigMap')!;
  for (const [k, v] of Object.entries(cm.data as Record<string, string>)) writeFileSync(path.join(dir, k), v);
  return dir;
}

/** A CronJob's container args, with the ConfigMap mount moved to `dir`. */
function jobArgs(cj: Obj, dir: string): string[] {
  return (container(cj).args as string[]).map((a) => a.replace(/^\/etc\/drctl/, dir));
}

describe('examples/kubernetes', () => {
  const objs = load();

  it('every object is valid against the Kubernetes schemas and the drctl policy', () => {
    expect(objs.length).toBeGreaterThanOrEqual(9);
    expect(manifestProblems(objs)).toEqual([]);
  });

  it('the validation fails on invalid manifests', () => {
    const broken = (edit: (o: Obj[]) => void) => {
      const copy = structuredClone(objs);
      edit(copy);
      return manifestProblems(copy);
    };
    const firstJob = (o: Obj[]) => o.find((x) => x.kind === 'CronJob')!;
    // Schema: an enum value, a quantity, a required field, a wrong type.
    expect(broken((o) => (firstJob(o).spec.concurrencyPolicy = 'Sometimes')).join('\n')).toMatch(/concurrencyPolicy must be equal to one of the allowed values/);
    expect(broken((o) => (container(firstJob(o)).resources.limits.memory = { gi: 1 })).join('\n')).toMatch(/schema: .*limits\/memory/);
    expect(broken((o) => delete firstJob(o).spec.schedule).join('\n')).toMatch(/must have required property schedule/);
    expect(broken((o) => (firstJob(o).spec.jobTemplate.spec.template.spec.containers = { name: 'drctl' })).join('\n')).toMatch(/containers must be array/);
    expect(broken((o) => (o.push({ apiVersion: 'batch/v2', kind: 'CronJob', metadata: { name: 'x' } }), undefined))).toContain('CronJob/x: no schema for batch/v2 CronJob');
    // Policy: what the schema allows but drctl on Kubernetes must not do.
    expect(broken((o) => delete firstJob(o).spec.concurrencyPolicy)).toContain('CronJob/drctl-backup-billing: concurrencyPolicy is not Forbid');
    expect(broken((o) => delete container(firstJob(o)).resources.limits)).toContain('CronJob/drctl-backup-billing: no cpu limits');
    expect(broken((o) => (firstJob(o).spec.jobTemplate.spec.template.spec.securityContext.runAsNonRoot = false))).toContain('CronJob/drctl-backup-billing: pod may run as root');
    expect(broken((o) => delete o.find((x) => x.kind === 'Secret')!.stringData.BILLING_DATABASE_URL)).toContain(
      'CronJob/drctl-backup-billing: DATABASE_URL refers to drctl-credentials/BILLING_DATABASE_URL, which is not defined',
    );
  });

  it('each database has its own repository, a nightly backup, an hourly verify-backups and a nightly drill', () => {
    const dbs = jobsByDatabase(objs);
    expect([...dbs.keys()].sort()).toEqual(['billing', 'orders']);
    const repos = new Set<string>();
    for (const [db, jobs] of dbs) {
      expect([...jobs.keys()].sort()).toEqual(['backup', 'drill', 'verify']);
      const verify = jobs.get('verify')!;
      expect(verify.spec.schedule).toMatch(/^\d+ \* \* \* \*$/);
      expect(container(verify).args).toEqual(expect.arrayContaining(['verify-backups', '--database', db]));
      expect(jobs.get('drill')!.spec.schedule).toMatch(/^\d+ \d+ \* \* \*$/);
      expect(container(jobs.get('drill')!).args).toContain('drill');
      const repo = envOf(verify, 'DRCTL_REPO')!;
      for (const job of jobs.values()) expect(envOf(job, 'DRCTL_REPO')).toBe(repo);
      repos.add(repo);
    }
    // One repository (and so one lock) per database: they never wait for each other.
    expect(repos.size).toBe(dbs.size);
  });

  it('drctl accepts the ConfigMap: drctl.yaml as --config and the drill runbook', async () => {
    const dir = mountConfigMap(objs);
    const args = jobArgs(jobsByDatabase(objs).get('orders')!.get('drill')!, dir);
    const runbook = args[args.indexOf('drill') + 1]!;
    const globals = args.slice(0, args.indexOf('drill'));
    const validate = await drctl([...globals, 'validate', runbook]);
    expect(validate.stderr).toBe('');
    expect(validate.code).toBe(0);
    const plan = await drctl([...globals, 'plan', runbook], { env: { DRCTL_REPO: 's3://acme-backups/orders', SCRATCH_DATABASE_URL: 'postgres://drill:canary-pw-1@scratch/orders_drill' } });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('Targets: RTO 30m00s');
    expect(plan.all).not.toContain('canary-pw-1');
  });

  it("one database's jobs run as their args say: backup, verify-backups, then the drill into the scratch database", async () => {
    pg = await startPostgres();
    await pg.sql('create database orders');
    await pg.sql('create table items (id int primary key, name text); insert into items select g, md5(g::text) from generate_series(1, 500) g', 'orders');
    const dir = mountConfigMap(objs);
    const jobs = jobsByDatabase(objs).get('orders')!;
    // A file:// repository stands in for the job's S3 prefix; everything else is as deployed.
    const env = {
      DRCTL_REPO: `file://${path.join(root, 'repo-orders')}`,
      DRCTL_STATE_DIR: path.join(root, 'pod-state'),
      DATABASE_URL: pg.url('orders'),
      SCRATCH_DATABASE_URL: pg.url('orders_drill'),
    };
    for (const kind of ['backup', 'verify', 'drill']) {
      const r = await drctl(jobArgs(jobs.get(kind)!, dir), { env, timeoutMs: 120_000 });
      expect(r.code, `${kind}: ${r.stderr}`).toBe(0);
    }
    expect(await pg.sql('select count(*) from items', 'orders_drill')).toBe('500');
    const history = await drctl(['history', '--runbook', 'restore-drill', '--json'], { env });
    expect(JSON.parse(history.stdout)[0]).toMatchObject({ runbook: 'restore-drill', kind: 'drill', status: 'succeeded' });
  }, 120_000);
});
