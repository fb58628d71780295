import { z } from 'zod';
import { OperationError, UsageError } from '../../errors.js';
import { defineAction } from '../types.js';
import { pick, requestJson } from '../http/json-api.js';

// pagerduty.event: PagerDuty Events API v2. The dedup key ties a trigger to its later
// acknowledge and resolve, so a runbook that pages on failure can close the incident itself
// once the recovery succeeds. PAGERDUTY_API_URL points the client elsewhere (a proxy, or a local
// server in tests).

const Input = z.strictObject({
  action: z.enum(['trigger', 'acknowledge', 'resolve']).default('trigger'),
  dedupKey: z.string().min(1).max(255).optional().meta({ description: 'required to acknowledge or resolve; default for trigger: PagerDuty assigns one' }),
  summary: z.string().min(1).max(1024).optional().meta({ description: 'the alert title (required to trigger)' }),
  source: z.string().default('drctl'),
  severity: z.enum(['critical', 'error', 'warning', 'info']).default('critical'),
  component: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional().meta({ description: 'custom_details shown in the incident' }),
  routingKey: z.string().optional().meta({ description: 'integration key (default: PAGERDUTY_ROUTING_KEY); mark it secret' }),
});

export const pagerdutyEvent = defineAction({
  name: 'pagerduty.event',
  summary: 'Trigger, acknowledge or resolve a PagerDuty incident (Events API v2)',
  input: Input,
  outputs: ['dedupKey', 'status'],
  describe: (i) => `PagerDuty ${i.action}${i.dedupKey ? ` ${i.dedupKey}` : ''}${i.summary ? `: ${i.summary.slice(0, 60)}` : ''}`,
  async run(ctx, i) {
    const routingKey = i.routingKey ?? ctx.env.PAGERDUTY_ROUTING_KEY;
    if (!routingKey) throw new UsageError('usage.pagerduty', 'pagerduty.event needs routingKey or PAGERDUTY_ROUTING_KEY');
    ctx.secret(routingKey);
    if (i.action === 'trigger' && !i.summary) throw new UsageError('usage.pagerduty', 'pagerduty.event: a trigger needs a summary');
    if (i.action !== 'trigger' && !i.dedupKey) throw new UsageError('usage.pagerduty', `pagerduty.event: ${i.action} needs the dedupKey of the incident`);
    const base = (ctx.env.PAGERDUTY_API_URL ?? 'https://events.pagerduty.com').replace(/\/+$/, '');
    const body = {
      routing_key: routingKey,
      event_action: i.action,
      ...(i.dedupKey ? { dedup_key: i.dedupKey } : {}),
      ...(i.action === 'trigger'
        ? { payload: { summary: i.summary, source: i.source, severity: i.severity, ...(i.component ? { component: i.component } : {}), ...(i.details ? { custom_details: i.details } : {}), timestamp: new Date().toISOString() } }
        : {}),
    };
    const a = await requestJson(ctx, 'pagerduty', `PagerDuty ${i.action}`, `${base}/v2/enqueue`, { body });
    if (a.status === 429) throw new OperationError('pagerduty.rateLimited', `PagerDuty ${i.action}: rate limited (429); retry later`);
    if (!a.ok) {
      const errors = pick(a.json, 'errors');
      const why = Array.isArray(errors) ? errors.map(String).join('; ') : String(pick(a.json, 'message') ?? '');
      throw new OperationError('pagerduty.status', `PagerDuty ${i.action}: ${a.status}${why ? ` ${why}` : ''}`);
    }
    const dedupKey = String(pick(a.json, 'dedup_key') ?? i.dedupKey ?? '');
    ctx.log(`PagerDuty ${i.action} accepted (dedup key ${dedupKey})`);
    return { dedupKey, status: String(pick(a.json, 'status') ?? 'success') };
  },
});
