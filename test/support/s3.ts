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
  stop(): Promise<void>;
}

/** Forwards to `target`, answering every `every`-th upload request with 503 or a dropped socket. */
export async function startFlakyProxy(target: string, every = 3): Promise<FlakyProxy> {
  const t = new URL(target);
  const failed = { status503: 0, dropped: 0 };
  let uploads = 0;
  const server = http.createServer((req, res) => {
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
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
