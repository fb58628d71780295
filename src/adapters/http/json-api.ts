import { OperationError } from '../../errors.js';
import type { ActionContext } from '../types.js';
import { fetchText, NoAnswer, type TextAnswer } from './fetch-text.js';

// One JSON request to a provider's API (Statuspage, PagerDuty, Slack, Cloudflare): a network
// failure or no answer in time becomes one line naming the host, never the URL (webhook URLs carry their secret in
// the path).

export interface JsonAnswer {
  status: number;
  ok: boolean;
  json: unknown;
  text: string;
}

const BODY_LIMIT = 256 * 1024;

export async function requestJson(
  ctx: ActionContext,
  code: string,
  what: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<JsonAnswer> {
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  let res: TextAnswer;
  try {
    res = await fetchText(ctx, url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body }, { limit: BODY_LIMIT });
  } catch (err) {
    if (!(err instanceof NoAnswer)) throw err;
    throw new OperationError(`${code}.unreachable`, `${what}: ${hostOf(url)}: ${err.reason}`);
  }
  const text = res.text;
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, ok: res.ok, json, text };
}

export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}

/** Reads a dotted path from parsed JSON; undefined when any part is missing. */
export function pick(value: unknown, ...path: (string | number)[]): unknown {
  let cur = value;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}
