import { Transform, type TransformCallback, type TransformOptions } from 'node:stream';

// zstd-napi's DecompressStream pushes everything one input chunk expands to before it asks for
// the next: a 1 MB read of a zstd-compressed pg_dump (~100x) became ~100 MB held in memory at
// once, whatever the consumer's pace. This stage decompresses one output buffer at a time and
// stops when the reader's buffer is full, resuming from where it stopped when it is read again,
// so what it holds stays one output buffer (~128 KB) above its highWaterMark.

/** The part of zstd-napi's native binding (ZSTD_decompressStream) this stage uses. */
export interface ZstdNative {
  DCtx: new () => { decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number] };
  dStreamOutSize(): number;
}

export class ZstdDecompressStream extends Transform {
  private readonly dctx: InstanceType<ZstdNative['DCtx']>;
  private readonly outSize: number;
  /** Input not yet decompressed, and the write callback that asks for more once it is all used. */
  private src: Buffer = Buffer.alloc(0);
  private pending: ((err?: Error | null) => void) | undefined;
  private inFrame = false;
  private pumping = false;
  private readAgain = false;

  constructor(binding: ZstdNative, o: TransformOptions = {}) {
    super(o);
    this.dctx = new binding.DCtx();
    this.outSize = binding.dStreamOutSize();
  }

  // _write, not _transform: Transform's own _write would call back (asking for the next chunk)
  // by the reader's buffer, and its _read only releases that callback. Here the callback waits
  // until this chunk's input is used up, and _read resumes decompressing it.
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    // Fed nothing at a frame boundary, the decoder asks for the next frame's header (a non-zero
    // hint) and a complete stream would read as truncated. Nothing is waiting inside it either:
    // the previous chunk was only called done once the decoder had no more output.
    if (chunk.length === 0) return cb();
    this.src = chunk;
    this.pending = cb;
    this.pump();
  }

  override _read(): void {
    if (this.pending) this.pump();
  }

  override _flush(cb: TransformCallback): void {
    cb(this.inFrame ? new Error('Stream ended in middle of compressed data frame') : null);
  }

  private pump(): void {
    // A consumer that reads synchronously inside push() calls _read again: note it, keep looping.
    if (this.pumping) {
      this.readAgain = true;
      return;
    }
    this.pumping = true;
    try {
      for (;;) {
        if (this.destroyed) return;
        const dst = Buffer.allocUnsafe(this.outSize);
        const [ret, produced, consumed] = this.dctx.decompressStream(dst, this.src);
        this.src = this.src.subarray(consumed);
        this.readAgain = false;
        const room = produced > 0 ? this.push(dst.subarray(0, produced)) : true;
        // All input used and the decoder has nothing more buffered: ask for the next chunk.
        if (this.src.length === 0 && (produced < dst.length || ret === 0)) {
          this.inFrame = ret !== 0;
          // The callback may write the next chunk at once (a re-entrant _transform).
          this.pumping = false;
          this.done();
          return;
        }
        if (!room && !this.readAgain) return;
      }
    } catch (err) {
      this.pumping = false;
      this.done(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  private done(err?: Error): void {
    const cb = this.pending;
    this.pending = undefined;
    cb?.(err);
  }
}
