import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { fetchText, NoAnswer } from '../../src/adapters/http/fetch-text.js';

// fetchText against a real local server: what each way of getting no answer means for a retry
// (refused before sending, lost after, no answer in time), the step's own timeout governing a
// one-request step, and an endless body read only up to the limit.

describe('fetchText', () => {
  let server: http.Server;
  let base: string;
  let closedPort: number;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/reset') return req.socket.destroy();
      if (req.url === '/hang') return;
      if (req.url === '/slow') return void setTimeout(() => res.end('late'), 400);
      if (req.url === '/endless') {
        res.writeHead(200);
        const chunk = 'x'.repeat(64 * 1024);
        const pump = () => {
          while (res.write(chunk));
          res.once('drain', pump);
        };
        res.on('close', () => res.removeAllListeners('drain'));
        return pump();
      }
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const ctx = (env: Record<string, string> = {}, o: { stepTimeoutMs?: number; signal?: AbortSignal } = {}) => ({ signal: o.signal ?? new AbortController().signal, env, stepTimeoutMs: o.stepTimeoutMs });
  const failure = async (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

  it('an answer: status and body', async () => {
    const r = await fetchText(ctx(), `${base}/`, {}, { limit: 1000 });
    expect([r.status, r.ok, r.text]).toEqual([200, true, '{"ok":true}']);
  });

  it('a refused connection was never sent; a connection reset after sending may have been acted on', async () => {
    const refused = await failure(fetchText(ctx(), `http://127.0.0.1:${closedPort}/`, { method: 'POST', body: '{}' }, { limit: 10 }));
    expect(refused).toBeInstanceOf(NoAnswer);
    expect(refused).toMatchObject({ reason: 'ECONNREFUSED', notSent: true, timedOut: false });
    const reset = await failure(fetchText(ctx(), `${base}/reset`, { method: 'POST', body: '{}' }, { limit: 10 }));
    expect(reset).toBeInstanceOf(NoAnswer);
    expect(reset).toMatchObject({ notSent: false, timedOut: false });
  });

  it('no answer within DRCTL_API_TIMEOUT: timed out, may have been acted on', async () => {
    const started = Date.now();
    const e = await failure(fetchText(ctx({ DRCTL_API_TIMEOUT: '200ms' }), `${base}/hang`, {}, { limit: 10 }));
    expect(e).toMatchObject({ reason: 'no answer in 200ms', notSent: false, timedOut: true });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("a step's own timeout governs a one-request step; other requests keep DRCTL_API_TIMEOUT", async () => {
    const env = { DRCTL_API_TIMEOUT: '100ms' };
    expect((await fetchText(ctx(env, { stepTimeoutMs: 5000 }), `${base}/slow`, {}, { limit: 10, wholeStep: true })).text).toBe('late');
    expect(await failure(fetchText(ctx(env, { stepTimeoutMs: 5000 }), `${base}/slow`, {}, { limit: 10 }))).toMatchObject({ timedOut: true });
    expect(await failure(fetchText(ctx(env), `${base}/slow`, {}, { limit: 10, wholeStep: true }))).toMatchObject({ timedOut: true });
  });

  it('Ctrl-C (the step signal) is not a timeout: the abort itself is rethrown', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e = await failure(fetchText(ctx({ DRCTL_API_TIMEOUT: '10s' }, { signal: ac.signal }), `${base}/hang`, {}, { limit: 10 }));
    expect(e).not.toBeInstanceOf(NoAnswer);
    expect((e as Error).name).toBe('AbortError');
  });

  it('an endless body is read up to the limit, then dropped', async () => {
    const r = await fetchText(ctx({ DRCTL_API_TIMEOUT: '10s' }), `${base}/endless`, {}, { limit: 100_000 });
    expect(r.text).toHaveLength(100_000);
  });

  it('DRCTL_API_TIMEOUT outside what a timer can wait is a usage error, not a request that fails at once', async () => {
    for (const v of ['0s', '30d', 'soon']) {
      const e = await failure(fetchText(ctx({ DRCTL_API_TIMEOUT: v }), `${base}/`, {}, { limit: 10 }));
      expect(e, v).toBeInstanceOf(UsageError);
      expect((e as Error).message, v).toContain(`DRCTL_API_TIMEOUT`);
    }
  });
});
