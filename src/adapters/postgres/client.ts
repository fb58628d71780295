import type { Client, QueryResultRow } from 'pg';
import { OperationError } from '../../errors.js';
import type { ConnectionOptions } from 'node:tls';
import { describeConn, type PgConn } from './conn.js';
import { shouldFallBack, tlsPlan } from './tls.js';

// A pg client (loaded lazily) with errors turned into one clear line each, and TLS as libpq
// would set it up for the same URL (see tls.ts).

export interface Db {
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** The underlying client, for COPY streams. */
  client: Client;
  close(): Promise<void>;
}

export async function connect(conn: PgConn, o: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Db> {
  const pg = (await import('pg')).default;
  const plan = tlsPlan(conn);
  const open = async (ssl: ConnectionOptions | false): Promise<Client> => {
    const client: Client = new pg.Client({
      host: conn.host,
      port: conn.port,
      user: conn.user,
      password: conn.password,
      database: conn.database,
      connectionTimeoutMillis: o.timeoutMs ?? 10_000,
      ssl,
      application_name: 'drctl',
    });
    client.on('error', () => {
      // a dropped connection surfaces on the next query; do not crash the process
    });
    await client.connect();
    return client;
  };
  let client: Client;
  try {
    try {
      client = await open(plan.first);
    } catch (err) {
      if (!shouldFallBack(plan, err) || o.signal?.aborted) throw err;
      client = await open(plan.fallback as ConnectionOptions | false);
    }
  } catch (err) {
    throw pgError(err, conn);
  }
  const onAbort = () => void client.end().catch(() => {});
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) onAbort();
  return {
    client,
    async query<R extends QueryResultRow>(sql: string, params?: unknown[]) {
      try {
        // A script of several statements returns one result per statement: keep the last.
        const r = (await client.query<R>(sql, params)) as unknown as { rows?: R[] } | { rows?: R[] }[];
        const last = Array.isArray(r) ? r[r.length - 1] : r;
        return last?.rows ?? [];
      } catch (err) {
        throw pgError(err, conn);
      }
    },
    async close() {
      o.signal?.removeEventListener('abort', onAbort);
      await client.end().catch(() => {});
    },
  };
}

/** One line for a pg error: what failed, where, without the password. */
export function pgError(err: unknown, conn: PgConn): OperationError {
  const e = err as { code?: string; message?: string; errno?: number };
  const where = describeConn(conn);
  const at = `${conn.host}:${conn.port}`;
  switch (e.code) {
    case 'ECONNREFUSED':
      return new OperationError('postgres.connect', `cannot connect to PostgreSQL at ${at}: connection refused`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new OperationError('postgres.connect', `cannot connect to PostgreSQL: host ${conn.host} not found`);
    case 'ETIMEDOUT':
      return new OperationError('postgres.connect', `cannot connect to PostgreSQL at ${at}: timed out`);
    case '28P01':
    case '28000':
      return final(new OperationError('postgres.auth', `PostgreSQL at ${at} refused user "${conn.user ?? ''}": ${e.message ?? 'authentication failed'}`));
    case '3D000':
      return final(new OperationError('postgres.noDatabase', `database "${conn.database}" does not exist on ${at}`));
    default:
      if (/CERT|ERR_TLS|ERR_SSL/.test(e.code ?? '') || /does not support SSL|certificate|self.signed/i.test(e.message ?? '')) {
        return final(new OperationError('postgres.tls', `TLS with PostgreSQL at ${at} failed: ${e.message ?? e.code}`));
      }
      if (/timeout/i.test(e.message ?? '')) return new OperationError('postgres.connect', `cannot connect to PostgreSQL at ${at}: ${e.message}`);
      return new OperationError('postgres.query', `${where}: ${e.message ?? String(err)}`);
  }
}

function final(e: OperationError): OperationError {
  e.retryable = false;
  return e;
}
