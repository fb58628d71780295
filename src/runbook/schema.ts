import { z } from 'zod';
import { tryParseDuration } from '../time/duration.js';

// The runbook format (apiVersion drctl/v1). This schema is the single source of truth: the
// loader validates against it, the engine's types come from it, and `drctl schema` prints the
// JSON Schema generated from it.

const ID = /^[A-Za-z][A-Za-z0-9_-]*$/;
const ACTION = /^[a-z][a-z0-9_-]*(\.[a-z][a-zA-Z0-9_-]*)+$/;

export const Duration = z
  .union([z.string(), z.number().nonnegative()])
  .refine((v) => tryParseDuration(v) !== undefined, {
    message: 'not a duration (use e.g. 90s, 15m, 1h30m, 2d; a bare number means seconds)',
  })
  .meta({ description: 'Duration such as 30s, 15m, 1h30m, 2d; a bare number means seconds' });

const StepId = z.string().regex(ID, 'step ids are letters, digits, - and _, starting with a letter');

export const Targets = z
  .strictObject({
    rto: Duration.optional().meta({ description: 'Recovery time objective: the run must end within it' }),
    rpo: Duration.optional().meta({ description: 'Recovery point objective: data loss allowed' }),
  })
  .meta({ description: 'Recovery objectives this runbook is measured against' });

export const InputSpec = z.strictObject({
  type: z
    .enum(['string', 'number', 'boolean', 'time'])
    .default('string')
    .meta({ description: 'time: an instant (ISO 8601 with offset, "10 minutes ago", now-10m; or latest), resolved once when the run starts' }),
  description: z.string().optional(),
  required: z.boolean().default(false),
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  secret: z.boolean().default(false).meta({ description: 'Redact this value from every output' }),
});

export const Retries = z.strictObject({
  attempts: z.number().int().min(1).max(100).meta({ description: 'Tries in all, including the first' }),
  backoff: Duration.default('1s').meta({ description: 'Wait before the second try; doubles after each failure' }),
  maxBackoff: Duration.optional(),
});

export const Budget = z.union([
  Duration,
  z.strictObject({
    duration: Duration,
    enforce: z.boolean().default(false).meta({ description: 'Exceeding it makes the run exit 3' }),
  }),
]);

export const OnFailure = z
  .string()
  .regex(ID, 'onFailure is abort, continue or a step id')
  .default('abort')
  .meta({ description: 'abort (default), continue, or the id of a later step to jump to' });

export const Step = z
  .strictObject({
    id: StepId,
    name: z.string().optional(),
    uses: z.string().regex(ACTION, 'uses is <adapter>.<action>, e.g. postgres.restore'),
    with: z.record(z.string(), z.unknown()).default({}),
    if: z.union([z.string(), z.boolean()]).optional().meta({ description: 'Run only when this expression is true' }),
    timeout: Duration.optional(),
    retries: Retries.optional(),
    budget: Budget.optional(),
    onFailure: OnFailure,
    critical: z.boolean().default(true).meta({ description: 'false: a failure is reported but does not fail the run' }),
    parallel: z.boolean().default(false).meta({ description: 'run together with the adjacent parallel steps (independent checks)' }),
    disaster: z.boolean().default(false).meta({ description: 'Drills: the disaster happens when this step ends' }),
    recovered: z.boolean().default(false).meta({ description: 'Drills: service is recovered when this step ends' }),
  })
  .meta({ description: 'One step: an adapter action with its inputs' });

export const Notify = z
  .strictObject({
    when: z.enum(['failure', 'success', 'always']).default('failure'),
    webhook: z.string().optional().meta({ description: 'Slack-compatible webhook URL' }),
    sms: z.string().optional().meta({ description: 'phone number to text through Twilio' }),
    slack: z.union([z.literal(true), z.string()]).optional().meta({ description: 'Slack incoming webhook URL, or true for SLACK_WEBHOOK_URL' }),
    pagerduty: z
      .union([z.literal(true), z.string()])
      .optional()
      .meta({ description: 'PagerDuty routing key, or true for PAGERDUTY_ROUTING_KEY: a failed run triggers, a succeeded one resolves (dedup key drctl-<runbook>)' }),
    message: z.string().optional().meta({ description: 'default: "drctl <runbook> <status> in <elapsed>" and the failed step' }),
  })
  .meta({ description: 'Page someone when the run ends: by webhook, SMS, Slack and/or PagerDuty' });

export const Runbook = z
  .strictObject({
    apiVersion: z.literal('drctl/v1'),
    name: z.string().regex(ID, 'name is letters, digits, - and _'),
    description: z.string().optional(),
    targets: Targets.optional(),
    inputs: z.record(z.string().regex(ID), InputSpec).default({}),
    steps: z.array(Step).min(1, 'a runbook needs at least one step'),
    finally: z.array(Step).default([]),
    notify: z.array(Notify).default([]).meta({ description: 'Notifications sent after the finally steps' }),
  })
  .meta({ title: 'drctl runbook', description: 'A disaster-recovery runbook run by drctl' });

export type Runbook = z.output<typeof Runbook>;
export type Step = z.output<typeof Step>;
export type InputSpec = z.output<typeof InputSpec>;
export type Targets = z.output<typeof Targets>;

/** The JSON Schema editors use (yaml-language-server), generated from the zod schema. */
export function runbookJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(Runbook, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
