import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './postgres.js';
import { killAndWait, waitForPort } from './ports.js';

// A real S3-compatible server for tests: moto's server on loopback (it ships with the
// machine's python3), plus an optional proxy in front that fails some requests the way a
// struggling store does (503 SlowDown, dropped connections).

export interface S3Server {
  endpoint: string;
  env: Record<string, string>;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const CREDS = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing-secret-key', AWS_REGION: 'us-east-1' };

export async function startS3(): Promise<S3Server> {
  const port = await freePort();
  const child: ChildProcess = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitForPort(port, { what: 'moto server', child, output: () => stderr });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    env: { ...CREDS, AWS_ENDPOINT_URL_S3: endpoint },
    async createBucket(name) {
      const s3 = new S3Client({ endpoint, region: CREDS.AWS_REGION, forcePathStyle: true, credentials: { accessKeyId: CREDS.AWS_ACCESS_KEY_ID, secretAccessKey: CREDS.AWS_SECRET_ACCESS_KEY } });
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      s3.destroy();
    },
    async stop() {
      await killAndWait(child);
    },
  };
}

export interface FlakyProxy {
  endpoint: string;
  failed: { status503: number; dropped: number };
  /** Every request that reached the proxy, as "METHOD /path?query". */
  requests: string[];
  stop(): Promise<void>;
}

/**
 * Forwards to `target`, answering every `every`-th upload request with 503 or a dropped socket
 * (Infinity: none), and records every request.
 */
export async function startFlakyProxy(target: string, every = 3): Promise<FlakyProxy> {
  const t = new URL(target);
  const failed = { status503: 0, dropped: 0 };
  const requests: string[] = [];
  let uploads = 0;
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const isUpload = req.method === 'PUT' || (req.method === 'POST' && req.url?.includes('uploadId'));
    if (isUpload && ++uploads % every === 0) {
      req.resume();
      req.on('end', () => {
        if ((uploads / every) % 2 === 1) {
          failed.status503++;
          res.writeHead(503, { 'content-type': 'application/xml' });
          res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
        } else {
          failed.dropped++;
          req.socket.destroy();
        }
      });
      return;
    }
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failed,
    requests,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}

export interface PartRaceProxy {
  endpoint: string;
  /** Per abort that arrived: how many part copies of that upload were still unanswered. */
  abortsWhileCopying: number[];
  aborts: number;
  /** Uploads whose part 1 was failed while another part's copy was held. */
  failedUploads: Set<string>;
  stop(): Promise<void>;
}

/**
 * Forwards to `target`, racing a multipart copy's parts against its abort. Part 1 of each upload
 * is answered 503 once another part's copy has arrived; the other parts are held until an abort
 * for their upload arrives or `holdMs` after that failure, then copied. The first abort of each
 * upload is answered 204 without reaching the store: it stands in for S3 keeping a part that was
 * stored while the abort ran, so only a client that checks (ListParts) and aborts again leaves
 * nothing behind.
 */
export async function startPartRaceProxy(target: string, holdMs = 1000): Promise<PartRaceProxy> {
  const t = new URL(target);
  const abortsWhileCopying: number[] = [];
  const failedUploads = new Set<string>();
  const swallowed = new Set<string>();
  let aborts = 0;
  interface Upload {
    copying: number;
    held: (() => void)[];
    released: boolean;
    waitingFirst?: () => void;
  }
  const uploads = new Map<string, Upload>();
  const upload = (id: string): Upload => {
    let u = uploads.get(id);
    if (!u) uploads.set(id, (u = { copying: 0, held: [], released: false }));
    return u;
  };
  const release = (u: Upload) => {
    u.released = true;
    for (const go of u.held.splice(0)) go();
  };
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, done?: () => void) => {
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      upRes.on('end', () => done?.());
    });
    up.on('error', () => (res.destroy(), done?.()));
    up.end(body);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const id = q.get('uploadId');
      const partNumber = Number(q.get('partNumber'));
      if (id && req.method === 'PUT' && req.headers['x-amz-copy-source'] && partNumber > 0) {
        const u = upload(id);
        u.copying++;
        const settle = () => u.copying--;
        if (partNumber === 1) {
          const fail = () => {
            failedUploads.add(id);
            res.writeHead(503, { 'content-type': 'application/xml' });
            res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>', () => {
              settle();
              setTimeout(() => release(u), holdMs).unref();
            });
          };
          if (u.held.length) fail();
          else u.waitingFirst = fail;
          return;
        }
        if (u.released) return forward(req, res, body, settle);
        u.held.push(() => forward(req, res, body, settle));
        const first = u.waitingFirst;
        u.waitingFirst = undefined;
        first?.();
        return;
      }
      if (id && req.method === 'DELETE') {
        aborts++;
        const u = upload(id);
        abortsWhileCopying.push(u.copying);
        release(u);
        if (!swallowed.has(id)) {
          swallowed.add(id);
          res.writeHead(204);
          res.end();
          return;
        }
      }
      forward(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    abortsWhileCopying,
    get aborts() {
      return aborts;
    },
    failedUploads,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
