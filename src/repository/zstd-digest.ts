import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { OperationError } from '../errors.js';

// When a separate zstd process compresses (a logical dump), Node never sees the plaintext,
// yet the manifest records the plaintext's size and sha256 and every restore checks them. This
// stage passes the compressed bytes on unchanged and decodes them beside the stream to hash
// what they decompress to. Decoding also checks the zstd frame's own checksum of the input the
// compressor read, so the digest recorded is the digest of pg_dump's output, and the object
// stored is proved to decompress to it before it is stored. Decoding into one reused buffer
// costs a fraction of compressing, and no plaintext buffer is allocated per chunk.

const OUT_SIZE = 1024 * 1024;

/** The code of the error for a stream that ended short: the compressor's exit says why. */
export const COMPRESSOR_ENDED = 'repo.compressorEnded';

type Binding = typeof import('zstd-napi/binding.js');

async function binding(): Promise<Binding> {
  const mod = (await import('zstd-napi/binding.js')) as Binding & { default?: Binding };
  return mod.default ?? mod;
}

export class ZstdPlainDigest extends Transform {
  private readonly hash = createHash('sha256');
  private readonly out = Buffer.allocUnsafe(OUT_SIZE);
  /** Plaintext bytes decoded so far; with `digest()`, valid once the stream has ended. */
  bytes = 0;
  private compressed = 0;
  /** 0 once the last frame seen was complete (zstd's "nothing left to flush"). */
  private pending = 1;

  private constructor(private readonly dctx: InstanceType<Binding['DCtx']>) {
    super({ highWaterMark: 1024 * 1024 });
  }

  static async create(): Promise<ZstdPlainDigest> {
    const b = await binding();
    return new ZstdPlainDigest(new b.DCtx());
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    // Fed nothing at a frame boundary, the decoder asks for the next frame's header (a non-zero
    // hint), which would count a complete stream as truncated.
    if (chunk.length === 0) return cb(null, chunk);
    this.compressed += chunk.length;
    let src: Buffer = chunk;
    try {
      for (;;) {
        const [ret, produced, consumed] = this.dctx.decompressStream(this.out, src);
        if (produced > 0) {
          this.hash.update(this.out.subarray(0, produced));
          this.bytes += produced;
        }
        this.pending = ret;
        src = src.subarray(consumed);
        // Done with this chunk once it is consumed and the output buffer was not filled (a
        // full buffer may mean more output is waiting inside the decoder).
        if (src.length === 0 && produced < this.out.length) break;
      }
    } catch (err) {
      return cb(new OperationError('repo.compress', `the zstd stream from the compressor is not valid (${(err as Error).message})`));
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.compressed === 0 || this.pending !== 0) {
      return cb(new OperationError(COMPRESSOR_ENDED, `the zstd stream from the compressor ended ${this.compressed === 0 ? 'empty' : 'inside a frame (truncated)'}`));
    }
    cb();
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
