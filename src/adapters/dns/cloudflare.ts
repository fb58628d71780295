import { OperationError, UsageError } from '../../errors.js';
import type { ActionContext } from '../types.js';
import { pick, requestJson, type JsonAnswer } from '../http/json-api.js';
import { fqdn, isZoneName, type RecordSet, type UpdateResult } from './record.js';

// Cloudflare DNS over its v4 API with an API token: find the record by name and type, update
// it in place (or create it), then read it back, since the API answers before every edge has it
// and a silently dropped field would otherwise pass. CLOUDFLARE_API_URL points it elsewhere.

interface Api {
  call(what: string, path: string, init?: { method?: string; body?: unknown }): Promise<unknown>;
}

function api(ctx: ActionContext, token: string | undefined): Api {
  const t = token ?? ctx.env.CLOUDFLARE_API_TOKEN;
  if (!t) throw new UsageError('usage.cloudflare', 'dns: Cloudflare needs apiToken or CLOUDFLARE_API_TOKEN');
  ctx.secret(t);
  const base = (ctx.env.CLOUDFLARE_API_URL ?? 'https://api.cloudflare.com/client/v4').replace(/\/+$/, '');
  return {
    async call(what, path, init = {}) {
      const a = await requestJson(ctx, 'dns', `Cloudflare ${what}`, `${base}${path}`, { ...init, headers: { authorization: `Bearer ${t}` } });
      if (!a.ok || pick(a.json, 'success') !== true) throw cloudflareError(what, a);
      return pick(a.json, 'result');
    },
  };
}

function cloudflareError(what: string, a: JsonAnswer): OperationError {
  const errors = pick(a.json, 'errors');
  const why = Array.isArray(errors) ? errors.map((e) => `${String(pick(e, 'code') ?? '')} ${String(pick(e, 'message') ?? '')}`.trim()).join('; ') : '';
  if (a.status === 401 || a.status === 403) return new OperationError('dns.auth', `Cloudflare ${what}: the API token was rejected (${a.status}${why ? `: ${why}` : ''})`);
  return new OperationError('dns.cloudflare', `Cloudflare ${what}: ${a.status}${why ? ` ${why}` : ''}`);
}

async function zoneOf(cf: Api, zone: string): Promise<{ id: string; name?: string }> {
  if (!isZoneName(zone)) {
    const z = await cf.call('zone', `/zones/${encodeURIComponent(zone)}`);
    return { id: zone, name: typeof pick(z, 'name') === 'string' ? String(pick(z, 'name')) : undefined };
  }
  const name = zone.replace(/\.$/, '').toLowerCase();
  const list = await cf.call('zone lookup', `/zones?name=${encodeURIComponent(name)}`);
  const id = Array.isArray(list) ? pick(list[0], 'id') : undefined;
  if (typeof id !== 'string') throw new UsageError('usage.dnsZone', `dns.update: the Cloudflare token sees no zone ${name}`);
  return { id, name };
}

async function findRecord(cf: Api, zoneId: string, name: string, type: string): Promise<{ id: string; content: string; ttl: number } | undefined> {
  const list = await cf.call('record lookup', `/zones/${zoneId}/dns_records?type=${type}&name=${encodeURIComponent(name)}`);
  if (!Array.isArray(list) || !list.length) return undefined;
  if (list.length > 1) throw new OperationError('dns.ambiguous', `Cloudflare has ${list.length} ${type} records named ${name}; drctl updates one`);
  return { id: String(pick(list[0], 'id')), content: String(pick(list[0], 'content') ?? ''), ttl: Number(pick(list[0], 'ttl') ?? 0) };
}

export async function cloudflareUpdate(
  ctx: ActionContext,
  rec: RecordSet,
  o: { zone: string; apiToken?: string; proxied?: boolean },
): Promise<UpdateResult & { name: string }> {
  if (rec.values.length !== 1) throw new UsageError('usage.dns', 'dns.update: Cloudflare takes one value per record');
  const cf = api(ctx, o.apiToken);
  const zone = await zoneOf(cf, o.zone);
  const name = fqdn(rec.name, zone.name);
  const content = rec.values[0] as string;
  const cur = await findRecord(cf, zone.id, name, rec.type);
  const body = { type: rec.type, name, content, ttl: rec.ttl, ...(o.proxied !== undefined ? { proxied: o.proxied } : {}) };
  const saved = cur
    ? await cf.call('record update', `/zones/${zone.id}/dns_records/${cur.id}`, { method: 'PATCH', body })
    : await cf.call('record create', `/zones/${zone.id}/dns_records`, { method: 'POST', body });
  const id = String(pick(saved, 'id') ?? cur?.id ?? '');
  const back = await cf.call('record read-back', `/zones/${zone.id}/dns_records/${id}`);
  if (String(pick(back, 'content')) !== content) {
    throw new OperationError('dns.readBack', `Cloudflare ${name} ${rec.type} reads back as ${String(pick(back, 'content'))}, not ${content}`);
  }
  ctx.log(`Cloudflare ${name} ${rec.type}: ${cur ? `${cur.content} → ` : ''}${content}`);
  return { name, previous: cur ? { values: [cur.content], ttl: cur.ttl } : undefined, changeId: id, status: 'applied' };
}
