import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A local server that answers like Twilio's REST API for what drctl uses: Basic auth checked
// like the API does (401 with Twilio's error JSON), form-encoded bodies parsed, JSON answers.

export interface TwilioMessage {
  to: string;
  from?: string;
  body: string;
}

export interface FakeTwilio {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  messages: TwilioMessage[];
  /** Incoming phone numbers the account owns, for twilio.check. */
  numbers: { sid: string; phoneNumber: string; voiceUrl: string; smsUrl: string }[];
  accountStatus: string;
  delayMs: number;
  stop(): Promise<void>;
}

export async function startFakeTwilio(accountSid = 'AC' + '1'.repeat(32), authToken = 'canary-twilio-token-77f1'): Promise<FakeTwilio> {
  const state: Omit<FakeTwilio, 'baseUrl' | 'stop'> = { accountSid, authToken, messages: [], numbers: [], accountStatus: 'active', delayMs: 0 };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        setTimeout(() => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        }, state.delayMs);
      };
      const auth = req.headers.authorization ?? '';
      const expected = `Basic ${Buffer.from(`${state.accountSid}:${state.authToken}`).toString('base64')}`;
      if (auth !== expected) return send(401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
      const url = new URL(req.url ?? '/', 'http://x');
      const base = `/2010-04-01/Accounts/${state.accountSid}`;
      if (req.method === 'POST' && url.pathname === `${base}/Messages.json`) {
        const form = new URLSearchParams(raw);
        const msg = { to: form.get('To') ?? '', from: form.get('From') ?? undefined, body: form.get('Body') ?? '' };
        if (!msg.to || !msg.body) return send(400, { code: 21604, message: "A 'To' phone number is required.", status: 400 });
        state.messages.push(msg);
        return send(201, { sid: `SM${'0'.repeat(30)}${state.messages.length.toString().padStart(2, '0')}`, status: 'queued', to: msg.to, from: msg.from, body: msg.body, account_sid: state.accountSid });
      }
      if (req.method === 'GET' && url.pathname === `${base}.json`) {
        return send(200, { sid: state.accountSid, status: state.accountStatus, friendly_name: 'drctl test', type: 'Full' });
      }
      if (req.method === 'GET' && url.pathname === `${base}/IncomingPhoneNumbers.json`) {
        const want = url.searchParams.get('PhoneNumber');
        const list = state.numbers.filter((n) => !want || n.phoneNumber === want);
        return send(200, {
          incoming_phone_numbers: list.map((n) => ({ sid: n.sid, phone_number: n.phoneNumber, voice_url: n.voiceUrl, sms_url: n.smsUrl, account_sid: state.accountSid })),
          page: 0,
          page_size: 50,
          next_page_uri: null,
          uri: url.pathname,
        });
      }
      send(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const fake = state as FakeTwilio;
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.stop = () => new Promise((r) => server.close(() => r()));
  return fake;
}

/** A webhook receiver that records JSON bodies. */
export async function startWebhook(): Promise<{ url: string; received: Record<string, unknown>[]; stop(): Promise<void> }> {
  const received: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      received.push(JSON.parse(raw) as Record<string, unknown>);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, stop: () => new Promise((r) => server.close(() => r())) };
}
