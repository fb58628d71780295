import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { pick, requestJson } from '../http/json-api.js';

// statuspage.check: a provider's public status page (Atlassian Statuspage's /api/v2 JSON, which
// Twilio, Render, Supabase and Vercel publish), so a health runbook can tell an outage of ours
// from one of theirs before anyone starts restoring.

const INDICATOR_RANK = { none: 0, minor: 1, major: 2, critical: 3 } as const;
type Indicator = keyof typeof INDICATOR_RANK;

const Input = z.strictObject({
  url: z.url().meta({ description: 'the status page base URL, e.g. https://status.twilio.com' }),
  name: z.string().optional().meta({ description: 'the provider, for messages (default: the host)' }),
  failOn: z.enum(['minor', 'major', 'none']).default('major').meta({ description: 'fail at this indicator or worse (critical counts as major); none: only report' }),
  components: z.array(z.string()).optional().meta({ description: 'only these components count (default: all)' }),
});

export const statuspageCheck = defineAction({
  name: 'statuspage.check',
  summary: "Read a provider's Statuspage status and degraded components",
  input: Input,
  outputs: ['indicator', 'description', 'degraded', 'figure'],
  describe: (i) => `read ${i.url.replace(/\/$/, '')}/api/v2/status.json and components.json (fail on ${i.failOn})`,
  async run(ctx, i) {
    const base = i.url.replace(/\/+$/, '');
    const name = i.name ?? new URL(base).host;
    const [status, comps] = await Promise.all([
      requestJson(ctx, 'statuspage', `${name} status`, `${base}/api/v2/status.json`),
      requestJson(ctx, 'statuspage', `${name} components`, `${base}/api/v2/components.json`),
    ]);
    for (const a of [status, comps]) {
      if (!a.ok) throw new OperationError('statuspage.status', `${name} status page answered ${a.status}`);
    }
    const indicator = pick(status.json, 'status', 'indicator');
    const description = pick(status.json, 'status', 'description');
    if (typeof indicator !== 'string' || !Object.hasOwn(INDICATOR_RANK, indicator)) {
      throw new OperationError('statuspage.format', `${name}: status.json has no status.indicator (is ${base} a Statuspage page?)`);
    }
    const list = pick(comps.json, 'components');
    if (!Array.isArray(list)) throw new OperationError('statuspage.format', `${name}: components.json has no components list`);
    const wanted = i.components ? new Set(i.components) : undefined;
    const degraded = list
      .map((c) => ({ name: String(pick(c, 'name') ?? ''), status: String(pick(c, 'status') ?? ''), group: pick(c, 'group') === true }))
      .filter((c) => !c.group && c.status !== 'operational' && (!wanted || wanted.has(c.name)))
      .map(({ name: n, status: s }) => ({ name: n, status: s }));
    if (wanted) {
      const known = new Set(list.map((c) => String(pick(c, 'name') ?? '')));
      const missing = [...wanted].filter((w) => !known.has(w));
      if (missing.length) throw new OperationError('statuspage.component', `${name}: no component named ${missing.map((m) => JSON.stringify(m)).join(', ')}`);
    }
    const outputs = {
      indicator,
      description: typeof description === 'string' ? description : '',
      degraded,
      figure: degraded.length ? `${indicator}: ${degraded.length} degraded` : indicator === 'none' ? 'operational' : indicator,
    };
    ctx.log(`${name}: ${outputs.description || indicator}${degraded.length ? ` — ${degraded.map((d) => `${d.name} (${d.status})`).join(', ')}` : ''}`);
    // With a component filter, the page-wide indicator may be about something we do not use.
    const rank = wanted ? Math.max(0, ...degraded.map((d) => componentRank(d.status))) : INDICATOR_RANK[indicator as Indicator];
    const threshold = i.failOn === 'none' ? Infinity : INDICATOR_RANK[i.failOn];
    if (rank >= threshold) {
      throw new OperationError('statuspage.degraded', `${name} reports ${outputs.description || indicator}${degraded.length ? `: ${degraded.map((d) => `${d.name} ${d.status}`).join(', ')}` : ''}`, { cause: outputs });
    }
    return outputs;
  },
});

function componentRank(status: string): number {
  // As Statuspage derives its page indicator: degraded is minor, partial is major, major is critical.
  if (status === 'major_outage') return 3;
  if (status === 'partial_outage') return 2;
  if (status === 'degraded_performance') return 1;
  return 0;
}
