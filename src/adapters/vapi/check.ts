import { z } from 'zod';
import { OperationError, UsageError } from '../../errors.js';
import { defineAction, type ActionContext } from '../types.js';
import { fetchText, NoAnswer, type TextAnswer } from '../http/fetch-text.js';

// vapi.check: the API key works; each assistant exists and sends its events to the
// expected server URL; each phone number exists. Vapi's REST API over fetch; VAPI_BASE_URL
// points it elsewhere (tests use a local server that answers like the API).

/** Vapi's answers are small JSON documents; more is not read. */
const BODY_LIMIT = 8 * 1024 * 1024;

const Assistant = z.strictObject({ id: z.string().min(1), serverUrl: z.string().optional() });

async function vapiGet(ctx: ActionContext, path: string): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const key = ctx.env.VAPI_API_KEY ?? ctx.env.VAPI_PRIVATE_KEY;
  if (!key) throw new UsageError('usage.vapi', 'vapi.check needs VAPI_API_KEY');
  ctx.secret(key);
  const base = (ctx.env.VAPI_BASE_URL ?? 'https://api.vapi.ai').replace(/\/$/, '');
  let res: TextAnswer;
  try {
    res = await fetchText(ctx, `${base}${path}`, { headers: { authorization: `Bearer ${key}` } }, { limit: BODY_LIMIT });
  } catch (err) {
    if (!(err instanceof NoAnswer)) throw err;
    throw new OperationError('vapi.unreachable', `Vapi API ${new URL(base).host}: ${err.reason}`);
  }
  const text = res.text;
  let body: Record<string, unknown> | undefined;
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    body = undefined;
  }
  if (res.status === 401 || res.status === 403) {
    const e = new OperationError('vapi.auth', `Vapi rejected the API key (${res.status})`);
    e.retryable = false;
    throw e;
  }
  return { status: res.status, body };
}

export const vapiCheck = defineAction({
  name: 'vapi.check',
  summary: 'Check the Vapi API key, assistants and their server URLs, phone numbers',
  input: z.strictObject({
    assistants: z.array(Assistant).default([]),
    phoneNumbers: z.array(z.string().min(1)).default([]),
  }),
  outputs: ['assistants', 'phoneNumbers', 'figure'],
  describe: (i) => `Vapi key${i.assistants.length ? `, ${i.assistants.length} assistant(s)` : ''}${i.phoneNumbers.length ? `, ${i.phoneNumbers.length} number(s)` : ''}`,
  async run(ctx, i) {
    const probe = await vapiGet(ctx, '/assistant?limit=1');
    if (probe.status >= 400) throw new OperationError('vapi.api', `Vapi API answered ${probe.status}`);
    const problems: string[] = [];
    const assistants: { id: string; serverUrl: string }[] = [];
    for (const a of i.assistants) {
      const r = await vapiGet(ctx, `/assistant/${encodeURIComponent(a.id)}`);
      if (r.status === 404) {
        problems.push(`assistant ${a.id} does not exist`);
        continue;
      }
      if (r.status >= 400) throw new OperationError('vapi.api', `Vapi API answered ${r.status} for assistant ${a.id}`);
      const server = r.body?.server as { url?: string } | undefined;
      const url = server?.url ?? (r.body?.serverUrl as string | undefined) ?? '';
      assistants.push({ id: a.id, serverUrl: url });
      if (a.serverUrl !== undefined && url !== a.serverUrl) problems.push(`assistant ${a.id} server URL is ${url || '(none)'}, expected ${a.serverUrl}`);
    }
    for (const id of i.phoneNumbers) {
      const r = await vapiGet(ctx, `/phone-number/${encodeURIComponent(id)}`);
      if (r.status === 404) problems.push(`phone number ${id} does not exist`);
      else if (r.status >= 400) throw new OperationError('vapi.api', `Vapi API answered ${r.status} for phone number ${id}`);
    }
    if (problems.length) throw new OperationError('vapi.check', problems.join('; '));
    return { assistants, phoneNumbers: i.phoneNumbers, figure: `key valid, ${assistants.length} assistant(s), ${i.phoneNumbers.length} number(s)` };
  },
});
