import http from 'node:http';
import type { AddressInfo } from 'node:net';

// Local servers that answer like the Supabase Management API and Render's API, for the real
// client code in drctl (SUPABASE_API_URL, RENDER_API_URL). Status changes happen per poll, not
// per second, so tests never depend on timing. Faults are queued per path: the next matching
// request gets that answer instead (a 429 with Retry-After, a 5xx), or, with `acts`, is
// carried out first and then answered with it, as a gateway that gave up waiting for the backend.

export interface Fault {
  method: string;
  path: RegExp;
  status: number;
  headers?: Record<string, string>;
  /** How many requests it answers (default 1). */
  times?: number;
  /** The request still takes effect; only its answer is replaced (a gateway's 502/504). */
  acts?: boolean;
  /** No answer at all: the connection stays open until the client gives up (status is ignored). */
  hang?: boolean;
}

export interface Logged {
  method: string;
  path: string;
  body: unknown;
  status: number;
}

interface Base {
  baseUrl: string;
  token: string;
  log: Logged[];
  faults: Fault[];
  stop(): Promise<void>;
  requests(method: string, path: RegExp): Logged[];
}

export interface FakeSupabase extends Base {
  ref: string;
  pitrEnabled: boolean;
  /** Unix seconds. */
  window: { earliest: number; latest: number };
  backups: { id: number; inserted_at: string; status: string; is_physical_backup: boolean }[];
  status: string;
  /** Statuses the project goes through after a restore request, one per status read. */
  afterRestore: string[];
}

export interface FakeRender extends Base {
  sourceId: string;
  recoveryStatus: string;
  startsAt: string;
  exports: { id: string; createdAt: string; url: string }[];
  /** Statuses of the new instance, one per read; the last one stays. */
  newStatuses: string[];
  newId: string;
  /** Ids of the instances the recovery requests created, in order. */
  created: string[];
  connection: { password: string; externalConnectionString: string; internalConnectionString: string; psqlCommand: string };
}

type Handler = (method: string, path: string, body: unknown) => [number, unknown, Record<string, string>?];

async function serve(token: string, handle: Handler): Promise<Base> {
  const state = { token, log: [] as Logged[], faults: [] as Fault[] };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const send = (status: number, out: unknown, headers: Record<string, string> = {}) => {
        state.log.push({ method, path, body, status });
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(out === undefined ? '' : JSON.stringify(out));
      };
      if (req.headers.authorization !== `Bearer ${state.token}`) return send(401, { message: 'Unauthorized' });
      const fault = state.faults.find((f) => f.method === method && f.path.test(path));
      if (fault) {
        fault.times = (fault.times ?? 1) - 1;
        if (fault.times <= 0) state.faults.splice(state.faults.indexOf(fault), 1);
        if (fault.acts) handle(method, path, body);
        if (fault.hang) return void state.log.push({ method, path, body, status: 0 });
        return send(fault.status, { message: fault.status === 429 ? 'Too many requests' : 'Internal error' }, fault.headers);
      }
      const [status, out, headers] = handle(method, path, body);
      send(status, out, headers);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
    requests: (m: string, p: RegExp) => state.log.filter((l) => l.method === m && p.test(l.path)),
  });
}

export async function startFakeSupabase(token = 'sbp_canary_token_71c3e0d9a4'): Promise<FakeSupabase> {
  const nowS = Math.floor(Date.now() / 1000);
  const fake = {
    ref: 'abcdefghijklmnopqrst',
    pitrEnabled: true,
    window: { earliest: nowS - 7 * 86400, latest: nowS - 60 },
    backups: [] as FakeSupabase['backups'],
    status: 'ACTIVE_HEALTHY',
    afterRestore: [] as string[],
  } as FakeSupabase;
  const base = await serve(token, (method, path, body) => {
    const p = `/v1/projects/${fake.ref}`;
    if (method === 'GET' && path === `${p}/database/backups`) {
      return [200, { region: 'eu-central-1', walg_enabled: true, pitr_enabled: fake.pitrEnabled, backups: fake.backups, physical_backup_data: fake.pitrEnabled ? { earliest_physical_backup_date_unix: fake.window.earliest, latest_physical_backup_date_unix: fake.window.latest } : {} }];
    }
    if (method === 'POST' && (path === `${p}/database/backups/restore-pitr` || path === `${p}/database/backups/restore`)) {
      if (path.endsWith('restore-pitr') && typeof (body as { recovery_time_target_unix?: unknown })?.recovery_time_target_unix !== 'number') return [400, { message: 'bad body' }];
      fake.status = 'ACTIVE_HEALTHY';
      restoring = [...fake.afterRestore];
      return [201, undefined];
    }
    if (method === 'GET' && path === p) {
      if (restoring.length) fake.status = restoring.shift()!;
      return [200, { id: fake.ref, ref: fake.ref, name: 'prod', status: fake.status }];
    }
    return [404, { message: 'Not Found' }];
  });
  let restoring: string[] = [];
  return Object.assign(fake, base);
}

export async function startFakeRender(token = 'rnd_canary_key_5b8e21f0c7'): Promise<FakeRender> {
  const fake = {
    sourceId: 'dpg-source0001',
    recoveryStatus: 'AVAILABLE',
    startsAt: new Date(Date.now() - 3 * 86400_000).toISOString(),
    exports: [{ id: 'exp-1', createdAt: new Date(Date.now() - 86400_000).toISOString(), url: 'https://exports.example/dump?X-Amz-Signature=signed-url-canary-4411' }],
    newStatuses: ['creating', 'recovery_in_progress', 'available'],
    newId: 'dpg-recovered0002',
    created: [] as string[],
    connection: { password: 'render-db-canary-pw-9012', externalConnectionString: '', internalConnectionString: '', psqlCommand: '' },
  } as FakeRender;
  let created = false;
  let reads = 0;
  const base = await serve(token, (method, path, body) => {
    const src = `/v1/postgres/${fake.sourceId}`;
    const neu = `/v1/postgres/${fake.newId}`;
    if (method === 'GET' && path === `${src}/recovery`) return [200, { recoveryStatus: fake.recoveryStatus, startsAt: fake.startsAt }];
    if (method === 'GET' && path === `${src}/export`) return [200, fake.exports];
    if (method === 'POST' && path === `${src}/recovery`) {
      if (typeof (body as { restoreTime?: unknown })?.restoreTime !== 'string') return [400, { id: 'bad_request', message: 'restoreTime required' }];
      created = true;
      fake.created.push(fake.created.length ? `${fake.newId}-${fake.created.length + 1}` : fake.newId);
      return [201, { id: fake.created[fake.created.length - 1], name: (body as { restoreName?: string }).restoreName ?? 'prod-pitr', status: 'creating' }];
    }
    const made = fake.created.find((id) => path === `/v1/postgres/${id}` || path === `/v1/postgres/${id}/connection-info`);
    if (created && method === 'GET' && made && path.endsWith('/connection-info')) return [200, fake.connection];
    if (created && method === 'GET' && (path === neu || made)) {
      const status = fake.newStatuses[Math.min(reads++, fake.newStatuses.length - 1)];
      return [200, { id: made ?? fake.newId, name: 'prod-pitr', status }];
    }
    if (created && method === 'GET' && path === `${neu}/connection-info`) return [200, fake.connection];
    return [404, { id: 'not_found', message: 'Unable to find the requested resource.' }];
  });
  return Object.assign(fake, base);
}
