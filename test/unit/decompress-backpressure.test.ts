import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { compressor, decompressor, type Codec } from '../../src/repository/compress.js';

// A logical restore reads the stored dump in 1 MB chunks; zstd expands a pg_dump ~100x, and a
// decompress stage that pushes all of one chunk's output before it looks at its reader held
// ~100 MB per chunk (peak RSS 270-306 MB). With a reader that is slower than the decompressor
// (pg_restore), what the stage buffers must stay near its highWaterMark, whatever the ratio.

const PLAIN = 48 * 1024 * 1024;
const BOUND = 1024 * 1024;

async function compressed(codec: Codec): Promise<Buffer> {
  const c = await compressor({ codec, level: codec === 'zstd' ? 3 : 6 });
  const out: Buffer[] = [];
  // Highly compressible: one repeated 1 MB block of a short line (ratio in the thousands).
  const block = Buffer.from('1\t1\t0\t                                                                                    \n'.repeat(11_000));
  async function* plain() {
    for (let n = 0; n < PLAIN; n += block.length) yield block.subarray(0, Math.min(block.length, PLAIN - n));
  }
  await pipeline(Readable.from(plain()), c!, new Writable({ write: (chunk: Buffer, _e, cb) => (out.push(chunk), cb()) }));
  return Buffer.concat(out);
}

describe.each(['zstd', 'gzip'] as const)('%s decompress stage', (codec) => {
  it('keeps its buffered output bounded when fed a whole highly compressed object at once and read slowly', async () => {
    const input = await compressed(codec);
    expect(input.length).toBeLessThan(PLAIN / 100);
    const d = (await decompressor(codec))!;
    let maxBuffered = 0;
    let bytes = 0;
    const hash = createHash('sha256');
    const expected = createHash('sha256');
    // The reference digest: the same plaintext as compressed() made.
    const block = Buffer.from('1\t1\t0\t                                                                                    \n'.repeat(11_000));
    for (let n = 0; n < PLAIN; n += block.length) expected.update(block.subarray(0, Math.min(block.length, PLAIN - n)));
    // The slow reader: each chunk is accepted only on a later turn of the event loop, after the
    // stage had every chance to run ahead of it.
    const slow = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _e, cb) {
        maxBuffered = Math.max(maxBuffered, d.readableLength);
        bytes += chunk.length;
        hash.update(chunk);
        setImmediate(cb);
      },
    });
    // One write of the whole compressed object: the expansion of a single input chunk is what
    // must not be buffered whole.
    await pipeline(Readable.from([input]), d, slow);
    expect(bytes).toBe(PLAIN);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    expect(maxBuffered).toBeLessThanOrEqual(BOUND);
  });
});

describe('zstd decompress stage', () => {
  it('fails a truncated stream, and decodes one fed in 1-byte writes', async () => {
    const input = await compressed('zstd');
    const cut = (await decompressor('zstd'))!;
    await expect(pipeline(Readable.from([input.subarray(0, input.length - 3)]), cut, new Writable({ write: (_c, _e, cb) => cb() }))).rejects.toThrow(/middle of compressed data frame/);

    const split = (await decompressor('zstd'))!;
    let bytes = 0;
    await pipeline(Readable.from([...input].map((x) => Buffer.from([x]))), split, new Writable({ write: (c: Buffer, _e, cb) => ((bytes += c.length), cb()) }));
    expect(bytes).toBe(PLAIN);
  });
});
