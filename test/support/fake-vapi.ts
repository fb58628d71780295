import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A local server that answers like Vapi's REST API for vapi.check: Bearer key, assistants
// with their server URL, phone numbers.

export interface FakeVapi {
  baseUrl: string;
  apiKey: string;
  assistants: Record<string, { serverUrl: string }>;
  phoneNumbers: string[];
  stop(): Promise<void>;
}

export async function startFakeVapi(apiKey = 'vapi-canary-key-9c2e'): Promise<FakeVapi> {
  const state = { apiKey, assistants: {} as FakeVapi['assistants'], phoneNumbers: [] as string[] };
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${state.apiKey}`) return send(401, { message: 'Invalid Key. Hot tip, make sure you are using the private key.', error: 'Unauthorized', statusCode: 401 });
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/assistant') return send(200, Object.entries(state.assistants).map(([id, a]) => ({ id, server: { url: a.serverUrl } })));
    const a = /^\/assistant\/([^/]+)$/.exec(url.pathname);
    if (a) {
      const found = state.assistants[decodeURIComponent(a[1]!)];
      return found ? send(200, { id: a[1], name: 'booking', server: { url: found.serverUrl } }) : send(404, { message: 'Not Found', statusCode: 404 });
    }
    const p = /^\/phone-number\/([^/]+)$/.exec(url.pathname);
    if (p) return state.phoneNumbers.includes(decodeURIComponent(p[1]!)) ? send(200, { id: p[1], number: '+15005550006' }) : send(404, { message: 'Not Found', statusCode: 404 });
    send(404, { message: 'Not Found', statusCode: 404 });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const fake = state as FakeVapi;
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.stop = () => new Promise((r) => server.close(() => r()));
  return fake;
}
