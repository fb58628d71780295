import { z } from 'zod';
import { OperationError, UsageError } from '../../errors.js';
import { defineAction } from '../types.js';
import { requestJson } from '../http/json-api.js';

// slack.post: a Slack incoming webhook with Block Kit blocks carrying the run's status, elapsed
// time and RTO, so the channel sees the figures without opening the report. The webhook URL is
// the secret (it carries its token in the path) and never appears in messages.

const STATUS_ICON: Record<string, string> = { succeeded: ':white_check_mark:', failed: ':x:', interrupted: ':warning:', declined: ':no_entry:' };

const Input = z.strictObject({
  text: z.string().min(1).max(3000).meta({ description: 'the message (also the notification text)' }),
  webhookUrl: z.url().optional().meta({ description: 'default: SLACK_WEBHOOK_URL; mark it secret' }),
  title: z.string().optional().meta({ description: 'a header line, e.g. the runbook name' }),
  status: z.string().optional().meta({ description: 'run status, e.g. ${run.status}' }),
  elapsed: z.string().optional().meta({ description: 'e.g. ${run.elapsed}' }),
  rto: z.string().optional().meta({ description: 'the RTO achieved (and its target)' }),
  rpo: z.string().optional().meta({ description: 'the RPO achieved' }),
  fields: z.record(z.string(), z.string()).default({}).meta({ description: 'more label: value pairs' }),
});

export const slackPost = defineAction({
  name: 'slack.post',
  summary: 'Post a message with status blocks to a Slack incoming webhook',
  input: Input,
  outputs: ['status'],
  describe: (i) => `Slack: ${i.text.slice(0, 80)}`,
  async run(ctx, i) {
    const url = i.webhookUrl ?? ctx.env.SLACK_WEBHOOK_URL;
    if (!url) throw new UsageError('usage.slack', 'slack.post needs webhookUrl or SLACK_WEBHOOK_URL');
    ctx.secret(url);
    ctx.secret(new URL(url).pathname);
    const a = await requestJson(ctx, 'slack', 'Slack webhook', url, { body: { text: i.text, blocks: blocks(i) } });
    // Slack answers 200 "ok", or 4xx with a plain-text reason (invalid_token, channel_not_found).
    if (!a.ok) throw new OperationError('slack.status', `Slack webhook answered ${a.status}${a.text && a.text.length < 100 ? `: ${a.text.trim()}` : ''}`);
    return { status: a.status };
  },
});

function blocks(i: z.output<typeof Input>): unknown[] {
  const out: unknown[] = [];
  if (i.title) out.push({ type: 'header', text: { type: 'plain_text', text: i.title.slice(0, 150) } });
  out.push({ type: 'section', text: { type: 'mrkdwn', text: `${i.status ? `${STATUS_ICON[i.status] ?? ''} ` : ''}${i.text}`.trim() } });
  const fields = [
    ...(i.status ? [['Status', i.status]] : []),
    ...(i.elapsed ? [['Elapsed', i.elapsed]] : []),
    ...(i.rto ? [['RTO', i.rto]] : []),
    ...(i.rpo ? [['RPO', i.rpo]] : []),
    ...Object.entries(i.fields),
  ].slice(0, 10);
  if (fields.length) out.push({ type: 'section', fields: fields.map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${v}` })) });
  return out;
}
