import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { compressor, decompressor } from '../../src/repository/compress.js';
import { ZstdPlainDigest } from '../../src/repository/zstd-digest.js';

// A stream may hand a stage an empty chunk (a zero-length read or write). Fed to the decoder at
// a frame boundary, ZSTD_decompressStream answers with a non-zero hint (the next frame's header
// is wanted), which read as "inside a frame": a valid stream ending there failed as truncated.

async function frame(text: string): Promise<Buffer> {
  const c = (await compressor({ codec: 'zstd', level: 3 }))!;
  const out: Buffer[] = [];
  await pipeline(Readable.from([Buffer.from(text)]), c, new Writable({ write: (chunk: Buffer, _e, cb) => (out.push(chunk), cb()) }));
  return Buffer.concat(out);
}

const EMPTY = Buffer.alloc(0);

describe('zstd stages and empty input chunks', () => {
  it('the decompress stage decodes two frames with empty chunks between and after them', async () => {
    const [a, b] = [await frame('first frame '), await frame('second frame')];
    for (const chunks of [[a, EMPTY, b], [a, b, EMPTY], [EMPTY, a, EMPTY, EMPTY, b, EMPTY]]) {
      const d = (await decompressor('zstd'))!;
      let text = '';
      await pipeline(Readable.from(chunks), d, new Writable({ write: (c: Buffer, _e, cb) => ((text += c.toString()), cb()) }));
      expect(text).toBe('first frame second frame');
    }
  });

  it('the digest stage passes them through and hashes the plaintext of both frames', async () => {
    const [a, b] = [await frame('first frame '), await frame('second frame')];
    for (const chunks of [[a, EMPTY, b], [a, b, EMPTY], [EMPTY, a, EMPTY, EMPTY, b, EMPTY]]) {
      const g = await ZstdPlainDigest.create();
      const out: Buffer[] = [];
      await pipeline(Readable.from(chunks), g, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
      expect(Buffer.concat(out).equals(Buffer.concat([a, b]))).toBe(true);
      expect(g.bytes).toBe('first frame second frame'.length);
    }
  });

  it('both still fail a stream cut inside a frame, empty chunk or not', async () => {
    const a = await frame('a frame cut short, so the stream is truncated');
    const cut = [a.subarray(0, a.length - 2), EMPTY];
    const d = (await decompressor('zstd'))!;
    await expect(pipeline(Readable.from(cut), d, new Writable({ write: (_c, _e, cb) => cb() }))).rejects.toThrow(/middle of compressed data frame/);
    const g = await ZstdPlainDigest.create();
    await expect(pipeline(Readable.from(cut), g, new Writable({ write: (_c, _e, cb) => cb() }))).rejects.toThrow(/truncated/);
  });
});
