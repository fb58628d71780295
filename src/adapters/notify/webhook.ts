import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { fetchText, NoAnswer, type TextAnswer } from '../http/fetch-text.js';

// notify.webhook: a JSON POST in Slack's incoming-webhook shape ({"text": ...}), which most
// chat tools and alert routers accept; extra fields ride along.

export const notifyWebhook = defineAction({
  name: 'notify.webhook',
  summary: 'POST a Slack-compatible JSON message to a webhook',
  input: z.strictObject({
    url: z.url(),
    text: z.string().min(1),
    fields: z.record(z.string(), z.unknown()).default({}),
    headers: z.record(z.string(), z.string()).default({}),
  }),
  outputs: ['status'],
  describe: (i) => `POST to a webhook: ${i.text.slice(0, 80)}`,
  async run(ctx, i) {
    let res: TextAnswer;
    try {
      res = await fetchText(ctx, i.url, { method: 'POST', headers: { 'content-type': 'application/json', ...i.headers }, body: JSON.stringify({ text: i.text, ...i.fields }) }, { limit: 0, wholeStep: true });
    } catch (err) {
      if (!(err instanceof NoAnswer)) throw err;
      throw new OperationError('notify.unreachable', `webhook ${new URL(i.url).host}: ${err.reason}`);
    }
    if (!res.ok) throw new OperationError('notify.status', `webhook ${new URL(i.url).host} answered ${res.status}`);
    return { status: res.status };
  },
});
