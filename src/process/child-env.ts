import { hasUrlPassword, isSecretName } from '../redact.js';

// The environment a user-written command (shell.run, Redis start/stop) inherits. Secrets stay
// with drctl: a runbook command sees one only when its step passes it in `env:`, where the
// runbook shows it to the reader. Tools drctl runs itself (pg_dump, tar...) get what they need
// from their own wrappers, not from this list. A command reads its output into reports and
// logs, and `env` or a debugging `set -x` would print whatever it inherited.

/** Variables holding secrets drctl reads; their `_FILE` twins are withheld too. */
export const WITHHELD_ENV = [
  'DRCTL_ENCRYPTION_KEY',
  'DRCTL_NEW_ENCRYPTION_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'TWILIO_AUTH_TOKEN',
  'TWILIO_API_KEY',
  'TWILIO_API_SECRET',
  'VAPI_API_KEY',
  'VAPI_PRIVATE_KEY',
  'PGPASSWORD',
  'REDISCLI_AUTH',
  'DATABASE_URL',
  'REDIS_URL',
  'SUPABASE_ACCESS_TOKEN',
  'RENDER_API_KEY',
  'CLOUDFLARE_API_TOKEN',
  'PAGERDUTY_ROUTING_KEY',
  'SLACK_WEBHOOK_URL',
  'DRCTL_NOTIFY_WEBHOOK',
] as const;

// Secret-looking by name but not secrets: an agent socket's path, which ssh and git need.
const PASSED = new Set(['SSH_AUTH_SOCK']);

const WITHHELD = new Set<string>(WITHHELD_ENV.flatMap((n) => [n, `${n}_FILE`]));

/**
 * True when a command drctl starts for a runbook must not inherit `name` (set to `value`): the
 * listed variables, any name the redactor counts as secret (TOKEN, KEY, SECRET, PASSWORD,
 * WEBHOOK...), and any value holding a URL with a password (SUPABASE_DB_URL=postgres://u:pw@...).
 */
export function isWithheld(name: string, value?: string): boolean {
  if (PASSED.has(name)) return false;
  if (WITHHELD.has(name) || isSecretName(name)) return true;
  return value !== undefined && hasUrlPassword(value);
}

/** `env` without secrets, then the step's explicit `env:` on top. */
export function commandEnv(env: Readonly<Record<string, string | undefined>>, explicit: Record<string, string> = {}): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) if (!isWithheld(k, v)) out[k] = v;
  return { ...out, ...explicit };
}

/** An `env:` input as strings. */
export function stringValues(env: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}
