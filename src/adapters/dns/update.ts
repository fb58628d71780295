import { z } from 'zod';
import { defineAction } from '../types.js';
import { cloudflareUpdate } from './cloudflare.js';
import { RecordInput } from './record.js';
import { route53Update } from './route53.js';

// dns.update: point a name at the new primary. The previous value is an output, so a later
// step (or a rollback runbook) can put it back with the same action.

const Input = z.strictObject({
  provider: z.enum(['route53', 'cloudflare']),
  ...RecordInput,
  value: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).meta({ description: 'the new value (several for a Route 53 record set)' }),
  wait: z.boolean().default(true).meta({ description: 'Route 53: wait until the change is INSYNC' }),
  pollInterval: z.number().int().min(100).default(5000).meta({ description: 'Route 53: ms between GetChange polls' }),
  endpoint: z.url().optional().meta({ description: 'Route 53 endpoint (default: AWS_ENDPOINT_URL_ROUTE_53, then AWS)' }),
  apiToken: z.string().optional().meta({ description: 'Cloudflare API token (default: CLOUDFLARE_API_TOKEN); mark it secret' }),
  proxied: z.boolean().optional().meta({ description: 'Cloudflare: proxy through Cloudflare' }),
});

export const dnsUpdate = defineAction({
  name: 'dns.update',
  summary: 'Set a DNS record on Route 53 or Cloudflare; outputs the previous value for rollback',
  input: Input,
  outputs: ['name', 'previousValue', 'previousValues', 'previousTtl', 'changeId', 'status', 'figure'],
  describe: (i) => `${i.provider}: set ${i.name} ${i.type} → ${[i.value].flat().join(', ')} (TTL ${i.ttl}) in ${i.zone}`,
  async run(ctx, i) {
    const rec = { name: i.name, type: i.type, ttl: i.ttl, values: [i.value].flat() };
    const r =
      i.provider === 'route53'
        ? await route53Update(ctx, rec, { zone: i.zone, endpoint: i.endpoint, wait: i.wait, pollMs: i.pollInterval })
        : await cloudflareUpdate(ctx, rec, { zone: i.zone, apiToken: i.apiToken, proxied: i.proxied });
    const previousValues = r.previous?.values ?? [];
    return {
      name: r.name,
      previousValue: previousValues.join(','),
      previousValues,
      previousTtl: r.previous?.ttl ?? null,
      changeId: r.changeId,
      status: r.status,
      figure: `${r.name} → ${rec.values.join(', ')}`,
    };
  },
});
