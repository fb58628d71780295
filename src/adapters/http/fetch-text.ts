import { UsageError } from '../../errors.js';
import { formatDuration, parseDuration } from '../../time/duration.js';
import type { ActionContext } from '../types.js';

// One HTTP request and its body, bounded in time and size: a server that accepts the
// connection and never answers (a hung proxy, a provider outage) fails the request after
// DRCTL_API_TIMEOUT (30 s) instead of holding the step, and the run, until somebody notices;
// an endless body is read only up to the caller's limit. Ctrl-C still cancels at once.

const DEFAULT_TIMEOUT_MS = 30_000;
/** The longest delay Node's timers take (2^31 - 1 ms, ~24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

export interface TextAnswer {
  status: number;
  ok: boolean;
  headers: Headers;
  text: string;
}

/** The request got no answer: `reason` says why in a few words, without the URL. */
export class NoAnswer extends Error {
  constructor(
    readonly reason: string,
    /** The connection failed before the request went out: the server cannot have acted on it. */
    readonly notSent: boolean,
    /** The server took the request and did not answer in time. */
    readonly timedOut: boolean,
  ) {
    super(reason);
  }
}

/** Failures to connect: nothing reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export function requestTimeoutMs(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.DRCTL_API_TIMEOUT;
  if (!raw) return DEFAULT_TIMEOUT_MS;
  const ms = parseDuration(raw, 'DRCTL_API_TIMEOUT');
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_TIMER_MS) {
    throw new UsageError('usage.apiTimeout', `DRCTL_API_TIMEOUT=${raw}: expected a duration from 1ms to 24d (a step's own timeout: sets a longer one)`);
  }
  return ms;
}

export interface FetchTextOptions {
  /** Characters of the body kept; the rest is not read. */
  limit: number;
  /**
   * The request is the whole step (http.check, a webhook): a `timeout:` set on the step governs
   * it instead of DRCTL_API_TIMEOUT, so a slow endpoint the runbook allows minutes for still works.
   */
  wholeStep?: boolean;
}

/**
 * fetch with the step's signal and a per-request timeout, the body read as text up to
 * `limit` characters. Throws NoAnswer when no answer came; rethrows the step's own abort.
 */
export async function fetchText(ctx: Pick<ActionContext, 'signal' | 'env' | 'stepTimeoutMs'>, url: string, init: RequestInit, o: FetchTextOptions): Promise<TextAnswer> {
  const own = o.wholeStep === true && ctx.stepTimeoutMs !== undefined;
  const ms = own ? undefined : requestTimeoutMs(ctx.env);
  const timer = ms === undefined ? undefined : AbortSignal.timeout(ms);
  try {
    const res = await fetch(url, { ...init, signal: timer ? AbortSignal.any([ctx.signal, timer]) : ctx.signal });
    const text = await readText(res, o.limit);
    return { status: res.status, ok: res.ok, headers: res.headers, text };
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    if (timer?.aborted) throw new NoAnswer(`no answer in ${formatDuration(ms ?? 0)}`, false, true);
    throw noAnswer(err);
  }
}

/** What a failed fetch means for a retry: refused before sending, or lost after. */
export function noAnswer(err: unknown): NoAnswer {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  return new NoAnswer(code ?? cause?.message ?? (err as Error).message, code !== undefined && NOT_SENT.has(code), false);
}

async function readText(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < limit) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      text += decoder.decode(value, { stream: true });
    }
    return text.slice(0, limit);
  } finally {
    // The rest of an over-long body is not wanted: stop reading it.
    await reader.cancel().catch(() => undefined);
  }
}
