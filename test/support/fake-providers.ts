import http from 'node:http';
import type { AddressInfo } from 'node:net';

// Local servers that answer like the provider APIs drctl's failover steps call: Atlassian
// Statuspage's public /api/v2 JSON, PagerDuty's Events API v2, a Slack incoming webhook and
// Cloudflare's v4 DNS API, each checking credentials the way the real one does. The real client
// code reaches them through the *_API_URL variables (or the webhook URL itself).

interface Served {
  baseUrl: string;
  stop(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, url: URL, body: string) => { status: number; body: unknown; type?: string };

async function serve(handler: Handler): Promise<Served> {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const out = handler(req, new URL(req.url ?? '/', 'http://x'), raw);
      res.writeHead(out.status, { 'content-type': out.type ?? 'application/json' });
      res.end(typeof out.body === 'string' ? out.body : JSON.stringify(out.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}

export interface FakeStatuspage extends Served {
  indicator: 'none' | 'minor' | 'major' | 'critical';
  description: string;
  components: { name: string; status: string; group?: boolean }[];
}

export async function startFakeStatuspage(): Promise<FakeStatuspage> {
  const state = { indicator: 'none', description: 'All Systems Operational', components: [] } as Omit<FakeStatuspage, keyof Served>;
  const page = { id: 'p1', name: 'Acme', url: 'https://status.acme.test', time_zone: 'Etc/UTC', updated_at: new Date().toISOString() };
  const s = await serve((req, url) => {
    if (req.method !== 'GET') return { status: 405, body: { error: 'method not allowed' } };
    if (url.pathname === '/api/v2/status.json') return { status: 200, body: { page, status: { indicator: state.indicator, description: state.description } } };
    if (url.pathname === '/api/v2/components.json') {
      return {
        status: 200,
        body: { page, components: state.components.map((c, i) => ({ id: `c${i}`, name: c.name, status: c.status, group: c.group ?? false, group_id: null, position: i, showcase: true, only_show_if_degraded: false })) },
      };
    }
    return { status: 404, body: { error: 'not found' } };
  });
  return Object.assign(state, s) as FakeStatuspage;
}

export interface PagerDutyEvent {
  routing_key: string;
  event_action: string;
  dedup_key?: string;
  payload?: { summary: string; source: string; severity: string; custom_details?: Record<string, unknown> };
}

export interface FakePagerDuty extends Served {
  routingKey: string;
  events: PagerDutyEvent[];
  /** Open incidents by dedup key, as PagerDuty would track them. */
  open: Map<string, string>;
}

export async function startFakePagerDuty(routingKey = 'R0UT1NGKEYCANARY0000000000000042'): Promise<FakePagerDuty> {
  const state = { routingKey, events: [] as PagerDutyEvent[], open: new Map<string, string>() };
  let n = 0;
  const s = await serve((req, url, raw) => {
    if (req.method !== 'POST' || url.pathname !== '/v2/enqueue') return { status: 404, body: { status: 'invalid path' } };
    let e: PagerDutyEvent;
    try {
      e = JSON.parse(raw) as PagerDutyEvent;
    } catch {
      return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['Malformed JSON'] } };
    }
    // The real API answers an unknown integration key with 400 "invalid routing_key" (not 401).
    if (e.routing_key !== state.routingKey) return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ['Invalid routing key'] } };
    if (!['trigger', 'acknowledge', 'resolve'].includes(e.event_action)) return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ["'event_action' is invalid"] } };
    if (e.event_action === 'trigger' && !e.payload?.summary) return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ["'payload.summary' is missing"] } };
    if (e.event_action !== 'trigger' && !e.dedup_key) return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ["'dedup_key' is missing"] } };
    state.events.push(e);
    const key = e.dedup_key ?? `pd-${++n}`;
    if (e.event_action === 'trigger') state.open.set(key, 'triggered');
    else if (e.event_action === 'acknowledge' && state.open.has(key)) state.open.set(key, 'acknowledged');
    else if (e.event_action === 'resolve') state.open.delete(key);
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: key } };
  });
  return Object.assign(state, s);
}

export interface FakeSlack extends Served {
  /** The full webhook URL, token in the path as Slack issues them. */
  webhookUrl: string;
  posts: { text: string; blocks?: unknown[] }[];
}

export async function startFakeSlack(token = 'T0000/B0000/slackcanary9c2e0f11'): Promise<FakeSlack> {
  const posts: FakeSlack['posts'] = [];
  const s = await serve((req, url, raw) => {
    if (req.method !== 'POST') return { status: 405, body: 'invalid_method', type: 'text/plain' };
    if (url.pathname !== `/services/${token}`) return { status: 403, body: 'invalid_token', type: 'text/plain' };
    let body: { text?: string; blocks?: unknown[] };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      return { status: 400, body: 'invalid_payload', type: 'text/plain' };
    }
    if (!body.text && !body.blocks) return { status: 400, body: 'no_text', type: 'text/plain' };
    posts.push({ text: body.text ?? '', blocks: body.blocks });
    return { status: 200, body: 'ok', type: 'text/plain' };
  });
  return Object.assign(s, { posts, webhookUrl: `${s.baseUrl}/services/${token}` });
}

export interface CloudflareRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  ttl: number;
  proxied: boolean;
}

export interface FakeCloudflare extends Served {
  apiUrl: string;
  token: string;
  zone: { id: string; name: string };
  records: CloudflareRecord[];
  /** Methods and paths as called, to check update-in-place vs create. */
  calls: string[];
}

export async function startFakeCloudflare(token = 'cf-canary-token-51d0a7'): Promise<FakeCloudflare> {
  const zone = { id: '023e105f4ecef8ad9ca31a8372d0c353', name: 'example.com' };
  const records: CloudflareRecord[] = [];
  const calls: string[] = [];
  let n = 0;
  const ok = (result: unknown) => ({ status: 200, body: { success: true, errors: [], messages: [], result } });
  const fail = (status: number, code: number, message: string) => ({ status, body: { success: false, errors: [{ code, message }], messages: [], result: null } });
  const s = await serve((req, url, raw) => {
    calls.push(`${req.method} ${url.pathname}`);
    if (req.headers.authorization !== `Bearer ${token}`) return fail(403, 9109, 'Invalid access token');
    const p = url.pathname.replace(/^\/client\/v4/, '');
    if (p === '/zones' && req.method === 'GET') return ok(url.searchParams.get('name') === zone.name ? [zone] : []);
    if (p === `/zones/${zone.id}` && req.method === 'GET') return ok(zone);
    const base = `/zones/${zone.id}/dns_records`;
    if (p === base && req.method === 'GET') {
      return ok(records.filter((r) => (!url.searchParams.get('type') || r.type === url.searchParams.get('type')) && (!url.searchParams.get('name') || r.name === url.searchParams.get('name'))));
    }
    if (p === base && req.method === 'POST') {
      const b = JSON.parse(raw) as Partial<CloudflareRecord>;
      const rec = { id: `rec${++n}`, type: b.type ?? 'A', name: b.name ?? '', content: b.content ?? '', ttl: b.ttl ?? 1, proxied: b.proxied ?? false };
      records.push(rec);
      return ok(rec);
    }
    const m = p.startsWith(`${base}/`) ? records.find((r) => r.id === p.slice(base.length + 1)) : undefined;
    if (p.startsWith(`${base}/`) && !m) return fail(404, 81044, 'Record does not exist.');
    if (m && req.method === 'GET') return ok(m);
    if (m && (req.method === 'PATCH' || req.method === 'PUT')) {
      Object.assign(m, JSON.parse(raw) as Partial<CloudflareRecord>);
      return ok(m);
    }
    return fail(404, 7003, 'Could not route to the requested path');
  });
  return Object.assign(s, { apiUrl: `${s.baseUrl}/client/v4`, token, zone, records, calls });
}
