import { createHash, type Hash, type Hmac } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { DrctlError } from '../errors.js';

// Streams that hash what flows through them, for manifests (on write) and checks (on read).

/** Passes data through; `digest()` and `bytes` are valid once it has ended. */
export class HashCounter extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Passes data through and checks size and sha256 at the end. It holds back the most recent
 * chunk until the check passes, so a consumer (pg_restore, tar) never sees the end of a bad
 * object: with a single transaction, nothing of it is committed.
 */
export class VerifyingStream extends Transform {
  private held: Buffer | undefined;
  private bytes = 0;

  /** `hash` replaces sha256 where the expected digest is keyed (encrypted WAL names). */
  constructor(
    private readonly expected: { sha256: string; size?: number },
    private readonly fail: (detail: string) => Error,
    private readonly hash: Hash | Hmac = createHash('sha256'),
  ) {
    super();
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    const prev = this.held;
    this.held = chunk;
    if (this.expected.size !== undefined && this.bytes > this.expected.size) return cb(this.fail(`longer than the ${this.expected.size} bytes recorded`));
    cb(null, prev);
  }

  override _flush(cb: TransformCallback): void {
    if (this.expected.size !== undefined && this.bytes !== this.expected.size) return cb(this.fail(`${this.bytes} bytes, the manifest records ${this.expected.size} (truncated)`));
    const got = this.hash.digest('hex');
    if (got !== this.expected.sha256) return cb(this.fail(`sha256 mismatch: recorded ${this.expected.sha256.slice(0, 16)}…, read ${got.slice(0, 16)}…`));
    if (this.held) this.push(this.held);
    cb();
  }
}

/**
 * Pipes `source` through `stages`. An error anywhere travels down to the last stage, so the
 * consumer (a storage driver, pg_restore's feed) sees it and discards what it got; errors
 * raised by the stages themselves pass through `wrap` (to name the object) once. When the
 * consumer destroys the last stage, everything above it is destroyed too.
 */
export function chain(source: Readable, stages: Transform[], wrap: (e: Error) => Error = (e) => e): Readable {
  // Errors of the source (a storage read) travel unchanged; each is wrapped at most once.
  const passed = new WeakSet<Error>();
  let cur: Readable = source;
  for (const stage of stages) {
    const prev = cur;
    prev.on('error', (e: Error) => {
      const out = prev === source || passed.has(e) || e instanceof DrctlError ? e : wrap(e);
      passed.add(out);
      stage.destroy(out);
    });
    cur = prev.pipe(stage);
  }
  // The consumer gave up (a full disk, pg_restore stopped): pipe() would only pause the stages
  // above, leaving a tool's stdout unread and its process never closing. Release them all.
  const last = cur;
  last.once('close', () => {
    if (last.readableEnded) return;
    for (const s of [source, ...stages]) if (!s.destroyed) s.destroy();
  });
  return cur;
}
