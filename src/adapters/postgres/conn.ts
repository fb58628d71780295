import { UsageError } from '../../errors.js';
import { secrets } from '../../redact.js';

// PostgreSQL connection settings from a URL (or libpq PG* variables). The password never goes
// on a command line: tools get it through PGPASSWORD, messages show host:port/db only.

/** The libpq TLS settings in a URL's query, then in PGSSL* variables. */
export const SSL_PARAMS: Record<string, string> = {
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  sslcrl: 'PGSSLCRL',
};

export interface PgConn {
  host: string;
  port: number;
  user?: string;
  password?: string;
  database: string;
  params: Record<string, string>;
}

/** Parses postgres://user:pass@host:port/db?sslmode=...; empty: the PG* environment. */
export function parsePgUrl(url: string | undefined, env: Readonly<Record<string, string | undefined>>, what = 'url'): PgConn {
  const u = (url ?? '').trim();
  if (!u) {
    if (!env.PGHOST && !env.PGDATABASE) throw new UsageError('usage.pgUrl', `${what}: no PostgreSQL URL (pass one, or set DATABASE_URL or PGHOST/PGDATABASE)`);
    return {
      host: env.PGHOST ?? 'localhost',
      port: Number(env.PGPORT ?? 5432),
      user: env.PGUSER,
      password: env.PGPASSWORD,
      database: env.PGDATABASE ?? env.PGUSER ?? 'postgres',
      params: withTlsEnv({}, env),
    };
  }
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new UsageError('usage.pgUrl', `${what}: "${secrets.redact(u)}" is not a PostgreSQL URL (postgres://user:password@host:5432/db)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError('usage.pgUrl', `${what}: "${secrets.redact(u)}" is not a PostgreSQL URL (postgres://user:password@host:5432/db)`);
  }
  const password = parsed.password ? decodeURIComponent(parsed.password) : env.PGPASSWORD;
  secrets.add(password);
  const params: Record<string, string> = {};
  for (const [k, v] of parsed.searchParams) params[k] = v;
  withTlsEnv(params, env);
  secrets.add(params.sslpassword);
  const port = parsed.port ? Number(parsed.port) : Number(env.PGPORT ?? 5432);
  return {
    host: parsed.hostname ? decodeURIComponent(parsed.hostname).replace(/^\[|\]$/g, '') : (params.host ?? env.PGHOST ?? 'localhost'),
    port,
    user: parsed.username ? decodeURIComponent(parsed.username) : env.PGUSER,
    password,
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || env.PGDATABASE || 'postgres',
    params,
  };
}

/** libpq's order: a TLS setting in the URL wins over its PGSSL* variable. */
function withTlsEnv(params: Record<string, string>, env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  for (const [param, variable] of Object.entries(SSL_PARAMS)) {
    const v = env[variable];
    if (params[param] === undefined && v) params[param] = v;
  }
  return params;
}

/** host:port/db, safe to print. */
export function describeConn(c: PgConn): string {
  return `${c.host}:${c.port}/${c.database}`;
}

/** The same server, another database. */
export function withDatabase(c: PgConn, database: string): PgConn {
  return { ...c, database };
}

/** libpq environment for the PostgreSQL tools: nothing secret in argv. */
export function libpqEnv(c: PgConn): Record<string, string> {
  const env: Record<string, string> = { PGHOST: c.host, PGPORT: String(c.port), PGDATABASE: c.database, PGCONNECT_TIMEOUT: '10' };
  if (c.user) env.PGUSER = c.user;
  if (c.password) env.PGPASSWORD = c.password;
  for (const [param, variable] of Object.entries(SSL_PARAMS)) if (c.params[param]) env[variable] = c.params[param];
  if (c.params.application_name) env.PGAPPNAME = c.params.application_name;
  return env;
}

/** Quotes an identifier for SQL. */
export function quoteIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}
