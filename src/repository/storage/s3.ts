import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { OperationError } from '../../errors.js';
import { DiskFullError, ObjectExistsError, ObjectMissingError, storedMismatch, type ObjectInfo, type PutOptions, type Storage } from '../storage.js';

// S3 and S3-compatible stores. The AWS SDK is imported here only, lazily. Path-style
// addressing with a custom endpoint (AWS_ENDPOINT_URL_S3); the SDK's newer default checksums
// are configurable because many S3-compatible stores need WHEN_REQUIRED. Uploads stream in
// parts (lib-storage) with bounded memory; the SDK retries 5xx and dropped connections.
// Every upload is counted and hashed as it goes; the stored size of a streamed upload is read
// back (HEAD) and a mismatch removes the object and fails. Single PUTs carry Content-MD5, so the
// store itself refuses a body that arrived damaged. The SDK sets no timeout of its own: a store
// that accepts a connection and then says nothing would hold a backup, a restore, or
// archive_command (and with it PostgreSQL's archiving) for ever, so connecting and every
// silence on a connection are bounded, and retried like any dropped connection.

export interface S3Settings {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  checksums: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  maxAttempts: number;
  partSize: number;
  queueSize: number;
  /** Longest wait for a TCP connection, ms. */
  connectTimeoutMs: number;
  /** Longest silence on an open connection (no byte either way) before it is dropped and retried, ms. */
  idleTimeoutMs: number;
}

export class S3Storage implements Storage {
  readonly location: string;
  private client?: Promise<{ s3: S3Client; sdk: typeof import('@aws-sdk/client-s3') }>;

  constructor(private readonly s: S3Settings) {
    this.location = `s3://${s.bucket}${s.prefix ? `/${s.prefix}` : ''}`;
  }

  private key(k: string): string {
    return this.s.prefix ? `${this.s.prefix}/${k}` : k;
  }

  /**
   * The credentials this client signs with, as the variables a child process (restore_command's
   * wal-fetch, under the server's user) reads: the SDK finds them in places that child cannot
   * see (the invoking user's ~/.aws files, AWS_PROFILE, SSO caches).
   */
  async credentialsEnv(): Promise<Record<string, string>> {
    const { s3 } = await this.connect();
    const c = await s3.config.credentials();
    return { AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, ...(c.sessionToken ? { AWS_SESSION_TOKEN: c.sessionToken } : {}) };
  }

  /** The configured SDK client, for adapters that work on the bucket itself (versioned restore). */
  sdkClient() {
    return this.connect();
  }

  private connect() {
    this.client ??= (async () => {
      // The SDK warns on every start under Node 20 (supported until 2027); on stderr that
      // noise would page cron's owner. Users can still opt in by setting the variable.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const sdk = await import('@aws-sdk/client-s3');
      const s3 = new sdk.S3Client({
        region: this.s.region,
        endpoint: this.s.endpoint,
        forcePathStyle: this.s.forcePathStyle,
        maxAttempts: this.s.maxAttempts,
        retryMode: 'standard',
        requestHandler: { connectionTimeout: this.s.connectTimeoutMs, socketTimeout: this.s.idleTimeoutMs },
        requestChecksumCalculation: this.s.checksums,
        responseChecksumValidation: this.s.checksums,
        credentials:
          this.s.accessKeyId && this.s.secretAccessKey
            ? { accessKeyId: this.s.accessKeyId, secretAccessKey: this.s.secretAccessKey, sessionToken: this.s.sessionToken }
            : undefined,
      });
      return { s3, sdk };
    })();
    return this.client;
  }

  async put(key: string, body: Readable, o: PutOptions = {}): Promise<void> {
    const { s3, sdk } = await this.connect();
    const Key = this.key(key);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      if (o.ifAbsent) {
        // If-None-Match decides; the HEAD first spares a body's upload where the key is known
        // to exist, and guards stores that ignore the condition, unless the caller just listed it.
        if (!o.listedAbsent && (await this.stat(key))) throw new ObjectExistsError(key);
        // Small objects only (locks, WAL): a single conditional PUT.
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c as Buffer);
        const buf = Buffer.concat(chunks);
        bytes = buf.length;
        hash.update(buf);
        this.checkExpected(key, o, bytes, hash.copy().digest('hex'));
        const ContentMD5 = createHash('md5').update(buf).digest('base64');
        try {
          await s3.send(new sdk.PutObjectCommand({ Bucket: this.s.bucket, Key, Body: buf, ContentMD5, IfNoneMatch: '*' }), { abortSignal: o.signal });
        } catch (err) {
          // 412: it exists. 409 (ConditionalRequestConflict): another conditional write of the
          // same key is in flight; the SDK does not retry it, and the caller's answer is the
          // same: someone else is writing it (a lock taker reads it back and waits or retries).
          if (statusOf(err) === 412 || statusOf(err) === 409) throw new ObjectExistsError(key);
          throw err;
        }
        o.onBytes?.(buf.length);
        // One PUT of a known buffer with its Content-MD5: S3 stores exactly those bytes or
        // refuses them, so asking for the stored size would add a round trip and prove nothing.
        return;
      } else {
        const count = new Transform({
          transform(chunk: Buffer, _e, cb) {
            bytes += chunk.length;
            hash.update(chunk);
            cb(null, chunk);
          },
        });
        body.on('error', (e) => count.destroy(e));
        const { Upload } = await import('@aws-sdk/lib-storage');
        const upload = new Upload({
          client: s3,
          params: { Bucket: this.s.bucket, Key, Body: body.pipe(count) },
          partSize: this.s.partSize,
          queueSize: this.s.queueSize,
          leavePartsOnError: false,
        });
        upload.on('httpUploadProgress', (p) => {
          if (p.loaded !== undefined) o.onBytes?.(p.loaded);
        });
        const onAbort = () => void upload.abort().catch(() => {});
        o.signal?.addEventListener('abort', onAbort, { once: true });
        try {
          await upload.done();
        } finally {
          o.signal?.removeEventListener('abort', onAbort);
        }
        try {
          this.checkExpected(key, o, bytes, hash.digest('hex'));
        } catch (err) {
          await this.remove(key).catch(() => {});
          throw err;
        }
      }
      // The store must hold exactly what was sent; an object that does not is removed.
      const stored = await this.stat(key);
      if (stored?.size !== bytes) {
        await this.remove(key).catch(() => {});
        throw storedMismatch(this.location, key, stored ? `the store holds ${stored.size} of ${bytes} bytes` : 'the store does not list it after the upload');
      }
    } catch (err) {
      if (err instanceof ObjectExistsError || err instanceof OperationError) throw err;
      throw this.wrap(err, `writing ${key}`, bytes);
    }
  }

  private checkExpected(key: string, o: PutOptions, bytes: number, sha256: string): void {
    if (o.expect?.size !== undefined && bytes !== o.expect.size) throw storedMismatch(this.location, key, `${bytes} bytes received, ${o.expect.size} expected`);
    if (o.expect?.sha256 && sha256 !== o.expect.sha256) throw storedMismatch(this.location, key, `sha256 ${sha256.slice(0, 12)}…, expected ${o.expect.sha256.slice(0, 12)}…`);
  }

  async get(key: string, o: { signal?: AbortSignal } = {}): Promise<Readable> {
    const { s3, sdk } = await this.connect();
    try {
      const r = await s3.send(new sdk.GetObjectCommand({ Bucket: this.s.bucket, Key: this.key(key) }), { abortSignal: o.signal });
      return r.Body as Readable;
    } catch (err) {
      if (nameOf(err) !== 'NoSuchBucket' && (statusOf(err) === 404 || nameOf(err) === 'NoSuchKey')) throw new ObjectMissingError(key);
      throw this.wrap(err, `reading ${key}`);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const { s3, sdk } = await this.connect();
    try {
      const r = await s3.send(new sdk.HeadObjectCommand({ Bucket: this.s.bucket, Key: this.key(key) }));
      return { key, size: r.ContentLength ?? 0, mtime: r.LastModified ?? new Date(0) };
    } catch (err) {
      if (statusOf(err) === 404 || nameOf(err) === 'NotFound' || nameOf(err) === 'NoSuchKey') return undefined;
      throw this.wrap(err, `checking ${key}`);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const { s3, sdk } = await this.connect();
    const out: ObjectInfo[] = [];
    const full = this.key(prefix);
    const strip = this.s.prefix ? this.s.prefix.length + 1 : 0;
    let token: string | undefined;
    try {
      do {
        const r = await s3.send(new sdk.ListObjectsV2Command({ Bucket: this.s.bucket, Prefix: full, ContinuationToken: token }));
        for (const o of r.Contents ?? []) {
          if (o.Key) out.push({ key: o.Key.slice(strip), size: o.Size ?? 0, mtime: o.LastModified ?? new Date(0) });
        }
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.wrap(err, `listing ${prefix}`);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async remove(key: string): Promise<void> {
    const { s3, sdk } = await this.connect();
    try {
      await s3.send(new sdk.DeleteObjectCommand({ Bucket: this.s.bucket, Key: this.key(key) }));
    } catch (err) {
      throw this.wrap(err, `deleting ${key}`);
    }
  }

  private wrap(err: unknown, what: string, bytes?: number): Error {
    if ((err as Error)?.name === 'AbortError') return err as Error;
    const status = statusOf(err);
    const name = nameOf(err);
    // 507 Insufficient Storage (MinIO: XMinioStorageFull) and quota errors: the disk-full line.
    if (status === 507 || name === 'XMinioStorageFull' || name === 'QuotaExceeded' || name === 'XMinioAdminBucketQuotaExceeded') {
      return new DiskFullError(this.location, bytes, undefined, true);
    }
    const msg = (err as Error)?.message ?? String(err);
    const code = (err as { code?: string }).code;
    const tries = `${this.s.maxAttempts} attempt(s), DRCTL_S3_MAX_ATTEMPTS`;
    const detail =
      name === 'NoSuchBucket'
        ? `bucket ${this.s.bucket} does not exist`
        : code === 'ECONNREFUSED'
          ? `cannot connect to ${this.s.endpoint ?? 'S3'}`
          : name === 'TimeoutError' && /inactivity/.test(msg)
            ? `${this.s.endpoint ?? 'S3'} stopped answering: ${this.s.idleTimeoutMs / 1000}s without a byte (DRCTL_S3_IDLE_TIMEOUT; ${tries})`
            : name === 'TimeoutError'
              ? `cannot connect to ${this.s.endpoint ?? 'S3'} within ${this.s.connectTimeoutMs / 1000}s (DRCTL_S3_CONNECT_TIMEOUT; ${tries})`
              : `${name ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${msg}`;
    return new OperationError('repo.s3', `${this.location}: ${what}: ${detail}`, { cause: err });
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string | undefined {
  return (err as { name?: string })?.name;
}
