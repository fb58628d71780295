import type { Transform } from 'node:stream';
import { UsageError } from '../errors.js';
import { findOnPath } from '../process/find-on-path.js';

// Compression before encryption (ciphertext does not compress). zstd comes from an N-API
// binding of libzstd: on a 16 MB WAL segment it runs faster than a spawned `zstd` process (no
// process start, no pipe copies) at the same ratio, and it loads in ~11 ms, so wal-push imports
// it only when it compresses or reads a zstd object. A logical dump is the exception: there the
// system `zstd` binary, when installed, reads pg_dump's output directly (findZstd), so the
// raw dump (~35x the stored size) never crosses into Node and compression runs on every core.
// gzip (zlib, built in) is the fallback; none stores the plaintext as is.

export const CODECS = ['zstd', 'gzip', 'none'] as const;
export type Codec = (typeof CODECS)[number];

/** Levels each codec accepts, and the one used when none is given. */
const LEVELS: Record<Codec, { min: number; max: number; default: number }> = {
  zstd: { min: 1, max: 19, default: 3 },
  gzip: { min: 1, max: 9, default: 6 },
  none: { min: 0, max: 0, default: 0 },
};

export interface Compression {
  codec: Codec;
  level: number;
}

export const DEFAULT_COMPRESSION: Compression = { codec: 'zstd', level: LEVELS.zstd.default };

/** Checks a codec name and level from a flag, config or environment. */
export function parseCompression(codec: string | undefined, level: string | number | undefined, what = '--compress'): Compression {
  const c = (codec ?? DEFAULT_COMPRESSION.codec).toLowerCase();
  if (!(CODECS as readonly string[]).includes(c)) throw new UsageError('usage.compress', `${what} ${codec}: use zstd, gzip or none`);
  const range = LEVELS[c as Codec];
  if (level === undefined || level === '') return { codec: c as Codec, level: range.default };
  const n = typeof level === 'number' ? level : /^\d+$/.test(level) ? Number(level) : Number.NaN;
  if (!Number.isInteger(n) || n < range.min || n > range.max) {
    throw new UsageError('usage.compress', `${what}-level ${level}: ${c} takes ${range.min === range.max ? `no level` : `a level from ${range.min} to ${range.max}`}`);
  }
  return { codec: c as Codec, level: n };
}

/** The suffix archived WAL names carry for each codec. */
export const CODEC_SUFFIX: Record<Codec, string> = { zstd: 'zst', gzip: 'gz', none: 'raw' };

export function codecOfSuffix(suffix: string): Codec | undefined {
  return (Object.keys(CODEC_SUFFIX) as Codec[]).find((c) => CODEC_SUFFIX[c] === suffix);
}

async function zstd() {
  try {
    return await import('zstd-napi');
  } catch (err) {
    throw new UsageError('usage.compress', `zstd is not available in this installation (${(err as Error).message.split('\n')[0]}): use --compress gzip`);
  }
}

/** A compressing stage, or undefined for none. */
export async function compressor(c: Compression): Promise<Transform | undefined> {
  if (c.codec === 'none') return undefined;
  if (c.codec === 'gzip') {
    const { createGzip } = await import('node:zlib');
    return createGzip({ level: c.level });
  }
  const { CompressStream } = await zstd();
  return new CompressStream({ compressionLevel: c.level }) as unknown as Transform;
}

/** A decompressing stage, or undefined for none. */
export async function decompressor(codec: Codec): Promise<Transform | undefined> {
  if (codec === 'none') return undefined;
  if (codec === 'gzip') {
    const { createGunzip } = await import('node:zlib');
    return createGunzip();
  }
  await zstd();
  const [{ ZstdDecompressStream }, binding] = await Promise.all([import('./zstd-decompress.js'), import('zstd-napi/binding.js')]);
  return new ZstdDecompressStream(binding.default);
}

/** The system `zstd` binary on `PATH`, or undefined when there is none (then zstd-napi compresses). */
export async function findZstd(env: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  return findOnPath('zstd', env);
}

/**
 * The arguments for a `zstd` process compressing stdin to stdout, with the frame checksum (the
 * CLI's default, asked for explicitly) that lets the reader prove it decoded exactly what the
 * compressor read. One worker thread: it compresses while zstd's main thread reads, and at
 * level 3 it outruns pg_dump (~0.6 s of CPU for a 513 MB dump that pg_dump takes ~2 s to
 * write), while two workers (-T0 on 2 cores) cost ~0.35 s more CPU in thread hand-offs on a
 * machine whose cores pg_dump and the server already keep busy.
 */
export function zstdArgs(level: number): string[] {
  return ['-q', '-c', `-${level}`, '-T1', '--check'];
}
