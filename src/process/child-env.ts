// The environment a user-written command (shell.run, Redis start/stop) inherits. drctl's own
// secrets stay with drctl: a runbook command sees one of them only when its step passes it in
// `env:`, where the runbook shows it to the reader. Tools drctl runs itself (pg_dump, tar...)
// get what they need from their own wrappers, not from this list.

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
] as const;

const WITHHELD = new Set<string>(WITHHELD_ENV.flatMap((n) => [n, `${n}_FILE`]));

/** True when a command drctl starts for a runbook must not inherit `name`. */
export function isWithheld(name: string): boolean {
  // Any DRCTL_*KEY* / *SECRET* / *TOKEN* / *PASSWORD* variable is drctl's, so it is withheld too.
  return WITHHELD.has(name) || /^DRCTL_.*(KEY|SECRET|TOKEN|PASSWORD|PASSPHRASE)/.test(name);
}

/** `env` without drctl's secrets, then the step's explicit `env:` on top. */
export function commandEnv(env: Readonly<Record<string, string | undefined>>, explicit: Record<string, string> = {}): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) if (!isWithheld(k)) out[k] = v;
  return { ...out, ...explicit };
}

/** An `env:` input as strings. */
export function stringValues(env: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}
