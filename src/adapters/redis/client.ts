import path from 'node:path';
import type { Redis } from 'ioredis';
import { DrctlError, OperationError, UsageError } from '../../errors.js';
import { secrets } from '../../redact.js';

// ioredis, loaded lazily, with errors as one line and INFO parsed into a map.

export interface RedisTarget {
  url: string;
  host: string;
  port: number;
}

export function parseRedisUrl(url: string | undefined): RedisTarget {
  if (!url) throw new UsageError('usage.redis', 'no Redis URL: pass url (redis://[:password@]host:port[/db]) or set REDIS_URL');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError('usage.redis', `"${secrets.redact(url)}" is not a Redis URL (redis://:password@host:6379/0)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError('usage.redis', `"${secrets.redact(url)}" is not a Redis URL (redis://:password@host:6379/0)`);
  if (u.password) secrets.add(decodeURIComponent(u.password));
  return { url, host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
}

/**
 * How long one command (and the connection with its INFO ready check) may take. A stopped or
 * wedged server still accepts TCP connections (the kernel completes the handshake), so without
 * this every command, the ready check included, waits forever and no deadline between them is
 * ever checked again.
 */
export const COMMAND_TIMEOUT_MS = 5000;

export class RedisTimeoutError extends OperationError {
  constructor(t: RedisTarget, ms: number) {
    super('redis.timeout', `Redis at ${t.host}:${t.port} did not answer within ${Math.round(ms / 1000)}s: the server is stopped, frozen or overloaded`);
  }
}

export async function connectRedis(t: RedisTarget, signal?: AbortSignal, timeoutMs = COMMAND_TIMEOUT_MS): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const bound = Math.max(100, Math.min(timeoutMs, COMMAND_TIMEOUT_MS));
  const client = new Redis(t.url, {
    lazyConnect: true,
    connectTimeout: Math.min(bound, COMMAND_TIMEOUT_MS),
    commandTimeout: Math.min(bound, COMMAND_TIMEOUT_MS),
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // ioredis rejects connect() with "Connection is closed."; the cause came as an error event.
  let cause: unknown;
  client.on('error', (err) => {
    cause ??= err;
  });
  const onAbort = () => client.disconnect();
  signal?.addEventListener('abort', onAbort, { once: true });
  // connect() covers the TCP handshake and the ready check as separate waits: bound the sum.
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    client.disconnect();
  }, bound);
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    if (timedOut) throw new RedisTimeoutError(t, bound);
    throw redisError(cause ?? err, t);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  return client;
}

export function redisError(err: unknown, t: RedisTarget): DrctlError {
  // Already one of ours (a failed check, bad input, a declined confirmation): keep it.
  if (err instanceof DrctlError) return err;
  const e = err as { code?: string; message?: string };
  const at = `${t.host}:${t.port}`;
  if (e.code === 'ECONNREFUSED') return new OperationError('redis.connect', `cannot connect to Redis at ${at}: connection refused`);
  if (e.code === 'ENOTFOUND') return new OperationError('redis.connect', `cannot connect to Redis: host ${t.host} not found`);
  const msg = e.message ?? String(err);
  if (/^Command timed out/.test(msg) || e.code === 'ETIMEDOUT') return new RedisTimeoutError(t, COMMAND_TIMEOUT_MS);
  if (/NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(msg)) {
    const x = new OperationError('redis.auth', `Redis at ${at} refused the credentials: ${msg.split('\n')[0]}`);
    x.retryable = false;
    return x;
  }
  return new OperationError('redis.command', `Redis at ${at}: ${msg.split('\n')[0]}`);
}

/** INFO as a flat map (section headers dropped). */
export async function info(client: Redis, section?: string): Promise<Record<string, string>> {
  return parseInfo(section ? await client.info(section) : await client.info());
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Keys in every database, from INFO keyspace. */
export async function keyCount(client: Redis): Promise<number> {
  const ks = await info(client, 'keyspace');
  return Object.values(ks).reduce((n, v) => n + Number(/keys=(\d+)/.exec(v)?.[1] ?? 0), 0);
}

/** Where the server keeps its RDB file (CONFIG GET dir and dbfilename). */
export async function rdbPath(client: Redis): Promise<string> {
  const dir = (await client.config('GET', 'dir')) as string[];
  const file = (await client.config('GET', 'dbfilename')) as string[];
  return path.join(dir[1] ?? '.', file[1] ?? 'dump.rdb');
}
