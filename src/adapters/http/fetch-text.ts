import { formatDuration, parseDuration } from '../../time/duration.js';
import type { ActionContext } from '../types.js';

// One HTTP request and its body, bounded in time: a server that accepts the connection and
// never answers (a hung proxy, a provider outage) fails the request after DRCTL_API_TIMEOUT
// (30 s) instead of holding the step, and the run, until somebody notices. A step's own
// `timeout:` still applies on top, and Ctrl-C still cancels at once.

const DEFAULT_TIMEOUT_MS = 30_000;

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

export function requestTimeoutMs(env: Record<string, string | undefined>): number {
  return env.DRCTL_API_TIMEOUT ? parseDuration(env.DRCTL_API_TIMEOUT, 'DRCTL_API_TIMEOUT') : DEFAULT_TIMEOUT_MS;
}

/**
 * fetch with the step's signal and a per-request timeout, the body read as text (up to `limit`
 * characters). Throws NoAnswer when no answer came; rethrows the step's own abort.
 */
export async function fetchText(ctx: Pick<ActionContext, 'signal' | 'env'>, url: string, init: RequestInit, limit: number): Promise<TextAnswer> {
  const ms = requestTimeoutMs(ctx.env);
  const timer = AbortSignal.timeout(ms);
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.any([ctx.signal, timer]) });
    const text = (await res.text()).slice(0, limit);
    return { status: res.status, ok: res.ok, headers: res.headers, text };
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    if (timer.aborted) throw new NoAnswer(`no answer in ${formatDuration(ms)}`, false, true);
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code;
    throw new NoAnswer(code ?? cause?.message ?? (err as Error).message, code !== undefined && NOT_SENT.has(code), false);
  }
}
