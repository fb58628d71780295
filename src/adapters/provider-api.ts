import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError, UsageError } from '../errors.js';
import { formatDuration, parseDuration } from '../time/duration.js';
import type { ActionContext } from './types.js';
import { fetchText, NoAnswer, type TextAnswer } from './http/fetch-text.js';

// A managed provider's REST API (Supabase Management API, Render API) over fetch: bearer
// token, JSON, bounded retries. 429 waits as long as Retry-After says (capped); GETs are retried
// after 5xx and dropped connections too. A POST starts a restore, and a second one would start a
// second restore (Render: a second new instance), so it is retried only when the provider
// certainly did not act on it: 429, 503 with Retry-After (the service refusing work, not a
// gateway giving up), or a connection that failed before anything was sent. Any other 5xx may
// follow the work being done (a 502 or 504 comes from a gateway that may have passed the
// request on), and a connection dropped after sending (or left without an answer past
// DRCTL_API_TIMEOUT, 30 s) may have delivered it: these end the step
// with a line saying the restore may have started and where to look. A rejected token is one
// line that says what to do.

export interface ProviderApi {
  get(path: string): Promise<unknown>;
  /** `unsure`: what to check when the provider may have acted but the answer was lost. */
  post(path: string, body: unknown, unsure: string): Promise<unknown>;
}

export interface ProviderApiOptions {
  /** "Supabase", "Render": the name in messages. */
  name: string;
  /** Error code prefix: "supabase", "render". */
  code: string;
  tokenVar: string;
  baseVar: string;
  defaultBase: string;
  /** Where a new token is made, for the expired-token line. */
  tokenHelp: string;
}

const MAX_ATTEMPTS = 5;
const RETRY_AFTER_CAP_MS = 60_000;
const BODY_LIMIT = 256 * 1024;

/**
 * Whether a failed POST may be sent again: only when the provider certainly did not act on it.
 * `unsure`: it may have acted (the answer, not the request, was lost).
 */
export function postRetry(status: number, dropped: Pick<NoAnswer, 'notSent'> | undefined, retryAfter: string | null | undefined): 'retry' | 'unsure' | 'fail' {
  if (dropped !== undefined) return dropped.notSent ? 'retry' : 'unsure';
  if (status === 429 || (status === 503 && retryAfterMs(retryAfter) !== undefined)) return 'retry';
  return status >= 500 ? 'unsure' : 'fail';
}

export function providerApi(ctx: ActionContext, o: ProviderApiOptions): ProviderApi {
  const token = ctx.env[o.tokenVar];
  if (!token) throw new UsageError(`usage.${o.code}`, `${o.name}: set ${o.tokenVar}`);
  ctx.secret(token);
  const base = (ctx.env[o.baseVar] || o.defaultBase).replace(/\/+$/, '');
  let host: string;
  try {
    host = new URL(base).host;
  } catch {
    throw new UsageError(`usage.${o.code}`, `${o.baseVar}=${base}: not a URL`);
  }

  async function request(method: 'GET' | 'POST', path: string, body?: unknown, unsure?: string): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      let res: TextAnswer | undefined;
      let dropped: NoAnswer | undefined;
      try {
        res = await fetchText(
          ctx,
          `${base}${path}`,
          {
            method,
            headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            body: body === undefined ? undefined : JSON.stringify(body),
          },
          { limit: BODY_LIMIT },
        );
      } catch (err) {
        if (!(err instanceof NoAnswer)) throw err;
        dropped = err;
      }
      const text = res?.text ?? '';
      const status = res?.status ?? 0;
      if (res && res.ok) return text ? parseJson(text) : undefined;
      if (status === 401 || status === 403) {
        const e = new OperationError(
          `${o.code}.auth`,
          `${o.name} API rejected ${o.tokenVar} (${status}): ${status === 401 ? 'the token is wrong or expired' : 'it may not act on this resource'}; ${o.tokenHelp}`,
        );
        e.retryable = false;
        throw e;
      }
      const retryAfter = res?.headers.get('retry-after');
      const verdict = method === 'GET' ? (status === 429 || dropped !== undefined || status >= 500 ? 'retry' : 'fail') : postRetry(status, dropped, retryAfter);
      const what = dropped ? `${host} ${dropped.timedOut ? `sent ${dropped.reason}` : `unreachable (${dropped.reason})`}` : `${o.name} API answered ${status}${errorDetail(text)}`;
      if (verdict === 'unsure') {
        const e = new OperationError(`${o.code}.unsure`, `${method} ${path}: ${what}, so it is not sent again; ${unsure ?? `the provider may have acted on it: check in the ${o.name} Dashboard`}`);
        e.retryable = false;
        throw e;
      }
      if (verdict === 'fail' || attempt >= MAX_ATTEMPTS) {
        const e = new OperationError(status === 404 ? `${o.code}.notFound` : `${o.code}.api`, `${method} ${path}: ${what}${attempt > 1 ? ` (after ${attempt} attempts)` : ''}`);
        if (status >= 400 && status < 500 && status !== 429) e.retryable = false;
        throw e;
      }
      const wait = status === 429 || status === 503 ? retryAfterMs(retryAfter) ?? backoffMs(ctx, attempt) : backoffMs(ctx, attempt);
      ctx.log(`${method} ${path}: ${what}; retrying in ${formatDuration(wait)} (attempt ${attempt + 1} of ${MAX_ATTEMPTS})`);
      await sleep(wait, undefined, { signal: ctx.signal });
    }
  }

  return { get: (p) => request('GET', p), post: (p, b, unsure) => request('POST', p, b, unsure) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The provider's own message, short: {"message": ...} as both APIs answer errors. */
function errorDetail(text: string): string {
  const j = parseJson(text) as { message?: unknown } | undefined;
  const m = typeof j?.message === 'string' ? j.message : '';
  return m ? `: ${m.slice(0, 200)}` : '';
}

/** Retry-After in seconds or as an HTTP date; capped so a wrong header cannot stall a restore. */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const s = Number(header.trim());
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, ms), RETRY_AFTER_CAP_MS);
}

function backoffMs(ctx: ActionContext, attempt: number): number {
  // DRCTL_API_BACKOFF shortens the first wait (tests, proxies that recover fast).
  const first = ctx.env.DRCTL_API_BACKOFF ? parseDuration(ctx.env.DRCTL_API_BACKOFF, 'DRCTL_API_BACKOFF') : 1000;
  return first * 2 ** (attempt - 1);
}

/** Polls `read` until `done` says so, with progress, up to `timeoutMs`. */
export async function pollUntil<T>(
  ctx: ActionContext,
  o: {
    read: () => Promise<T>;
    state: (v: T) => string;
    done: (v: T) => boolean;
    failed?: (v: T) => string | undefined;
    /** The timeout line, when the generic "still <state>" would mislead. */
    timedOut?: (v: T, waited: string) => string | undefined;
    intervalMs: number;
    timeoutMs: number;
    what: string;
  },
): Promise<{ value: T; polls: number }> {
  const start = Date.now();
  for (let polls = 1; ; polls++) {
    const value = await o.read();
    const state = o.state(value);
    ctx.progress({ message: `${o.what}: ${state} (${formatDuration(Date.now() - start)})` });
    if (o.done(value)) return { value, polls };
    const failure = o.failed?.(value);
    if (failure) {
      const e = new OperationError('provider.failed', `${o.what}: ${failure}`);
      e.retryable = false;
      throw e;
    }
    if (Date.now() - start >= o.timeoutMs) {
      const waited = formatDuration(Date.now() - start);
      const line = o.timedOut?.(value, waited);
      const e = new OperationError('provider.timeout', `${o.what}: ${line ?? `still ${state} after ${waited} (timeout ${formatDuration(o.timeoutMs)})`}`);
      e.retryable = false;
      throw e;
    }
    await sleep(o.intervalMs, undefined, { signal: ctx.signal });
  }
}
