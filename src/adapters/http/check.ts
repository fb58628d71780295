import { z } from 'zod';
import { OperationError } from '../../errors.js';
import { defineAction } from '../types.js';
import { fetchText, NoAnswer, type TextAnswer } from './fetch-text.js';

// http.check: one request, judged by status, and optionally by fields of a JSON body
// (an application's /health endpoints).

const Input = z.strictObject({
  url: z.url(),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
  status: z.union([z.number().int(), z.array(z.number().int())]).default(200),
  json: z.record(z.string(), z.unknown()).optional().meta({ description: '{ "a.b.0": expected } checked in the JSON body' }),
  contains: z.string().optional().meta({ description: 'Text the body must contain' }),
  headers: z.record(z.string(), z.string()).default({}),
  body: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
});

const BODY_LIMIT = 64 * 1024;

export const httpCheck = defineAction({
  name: 'http.check',
  summary: 'Request a URL and check its status and JSON fields',
  input: Input,
  outputs: ['status', 'latencyMs', 'body', 'json', 'figure'],
  describe: (i) => `${i.method} ${i.url} expecting ${Array.isArray(i.status) ? i.status.join('|') : i.status}`,
  async run(ctx, i) {
    const headers = { ...i.headers };
    let body: string | undefined;
    if (i.body !== undefined) {
      body = typeof i.body === 'string' ? i.body : JSON.stringify(i.body);
      if (typeof i.body !== 'string') headers['content-type'] ??= 'application/json';
    }
    const started = performance.now();
    let res: TextAnswer;
    try {
      res = await fetchText(ctx, i.url, { method: i.method, headers, body, redirect: 'follow' }, { limit: BODY_LIMIT, wholeStep: true });
    } catch (err) {
      if (!(err instanceof NoAnswer)) throw err;
      throw new OperationError('http.unreachable', `${i.method} ${i.url}: ${err.reason}`);
    }
    const text = res.text;
    const latencyMs = Math.round(performance.now() - started);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const outputs = { status: res.status, latencyMs, body: text, json, figure: `HTTP ${res.status}` };
    const expected = Array.isArray(i.status) ? i.status : [i.status];
    if (!expected.includes(res.status)) {
      throw new OperationError('http.status', `${i.method} ${i.url}: status ${res.status}, expected ${expected.join(' or ')}`, { cause: outputs });
    }
    if (i.contains !== undefined && !text.includes(i.contains)) {
      throw new OperationError('http.body', `${i.url}: body does not contain ${JSON.stringify(i.contains)}`);
    }
    for (const [path, want] of Object.entries(i.json ?? {})) {
      if (json === undefined) throw new OperationError('http.json', `${i.url}: body is not JSON, cannot check ${path}`);
      const got = getPath(json, path);
      if (!sameValue(got, want)) {
        throw new OperationError('http.json', `${i.url}: ${path} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
      }
    }
    return outputs;
  },
});

function getPath(value: unknown, path: string): unknown {
  let cur: unknown = value;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b) || String(a) === String(b);
}
