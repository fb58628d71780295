import { createHash } from 'node:crypto';
import { z } from 'zod';

// The manifest: what a backup is, where it came from, and the sha256 of every object's
// plaintext. It carries its own checksum, and is written last: no manifest, no backup. In an
// encrypted format-2 repository it is stored encrypted and bound to its path.

export const ObjectEntry = z.object({
  path: z.string(),
  size: z.number().int().nonnegative(),
  storedSize: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** How the stored bytes are compressed (format 2; format-1 objects have none). */
  codec: z.enum(['zstd', 'gzip', 'none']).optional(),
  level: z.number().int().nonnegative().optional(),
});
export type ObjectEntry = z.output<typeof ObjectEntry>;

export const TableStat = z.object({ schema: z.string(), name: z.string(), rows: z.number(), estimated: z.boolean().optional() });
export const DbStats = z.object({
  tables: z.array(TableStat),
  functions: z.array(z.string()),
  policies: z.array(z.string()),
  extensions: z.array(z.string()),
});
export type DbStats = z.output<typeof DbStats>;

/**
 * A backup kind's name: the adapters declare theirs (logical, base, redis, env, ...). The
 * manifest accepts any well-formed name; which ones this drctl can restore is for the
 * repository's opener to say (Repository.open's `kinds`). It is part of backup ids and paths.
 */
export const BACKUP_KIND_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export const Manifest = z.object({
  format: z.union([z.literal(1), z.literal(2)]),
  id: z.string(),
  kind: z.string().regex(BACKUP_KIND_NAME, 'a backup kind is lower-case letters, digits and dashes'),
  label: z.string().optional(),
  tool: z.object({ name: z.literal('drctl'), version: z.string(), host: z.string() }),
  source: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  startedAt: z.string(),
  stoppedAt: z.string(),
  durationMs: z.number(),
  /** The instant the data reflects: logical snapshot time, or a base backup's stop time. */
  recoveryPoint: z.string(),
  encrypted: z.boolean(),
  objects: z.array(ObjectEntry).min(1),
  size: z.number(),
  storedSize: z.number(),
  pg: z
    .object({
      startLsn: z.string(),
      stopLsn: z.string(),
      timeline: z.number().int(),
      walStart: z.string(),
      walStop: z.string(),
    })
    .optional(),
  stats: DbStats.optional(),
  extra: z.record(z.string(), z.unknown()).optional(),
  checksum: z.string(),
});
export type Manifest = z.output<typeof Manifest>;

/** sha256 over the manifest's canonical JSON (sorted keys) without its checksum field. */
export function manifestChecksum(m: object): string {
  const { checksum: _ignored, ...rest } = m as { checksum?: unknown };
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function sealManifest(m: Omit<Manifest, 'checksum'>): Manifest {
  return { ...m, checksum: manifestChecksum(m) };
}

/** A manifest parsed and its checksum checked; a reason when it is not valid. */
export function parseManifest(text: string): { manifest?: Manifest; problem?: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problem: 'manifest is not valid JSON' };
  }
  const r = Manifest.safeParse(raw);
  if (!r.success) return { problem: `manifest does not match its format: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}` };
  if (manifestChecksum(raw as object) !== r.data.checksum) return { problem: 'manifest checksum mismatch (edited or corrupted)' };
  return { manifest: r.data };
}
