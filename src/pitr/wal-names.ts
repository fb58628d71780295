import type { Codec } from '../repository/compress.js';
// WAL file names and LSN arithmetic. A segment is TTTTTTTTLLLLLLLLSSSSSSSS (timeline, log,
// segment within log); with a segment size of S bytes there are 2^32 / S segments per log.

export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;
const SEGMENT = /^[0-9A-F]{24}$/;
const PARTIAL = /^[0-9A-F]{24}\.partial$/;
const HISTORY = /^[0-9A-F]{8}\.history$/;
const BACKUP_LABEL = /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/;

export type WalFileKind = 'segment' | 'partial' | 'history' | 'backup';

/** What kind of file PostgreSQL archives under this name, or undefined if none. */
export function walFileKind(name: string): WalFileKind | undefined {
  if (SEGMENT.test(name)) return 'segment';
  if (PARTIAL.test(name)) return 'partial';
  if (HISTORY.test(name)) return 'history';
  if (BACKUP_LABEL.test(name)) return 'backup';
  return undefined;
}

export function timelineOf(name: string): number {
  return Number.parseInt(name.slice(0, 8), 16);
}

export function hex8(n: number | bigint): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}

/** "16/B374D848" → bigint. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(lsn.trim());
  if (!m) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The segment number (across logs) that contains a position. */
export function segmentNumber(name: string, segSize = DEFAULT_SEGMENT_SIZE): bigint {
  const perLog = 0x100000000n / BigInt(segSize);
  return BigInt(`0x${name.slice(8, 16)}`) * perLog + BigInt(`0x${name.slice(16, 24)}`);
}

export function segmentName(timeline: number, segno: bigint, segSize = DEFAULT_SEGMENT_SIZE): string {
  const perLog = 0x100000000n / BigInt(segSize);
  return `${hex8(timeline)}${hex8(segno / perLog)}${hex8(segno % perLog)}`;
}

/** The name of the segment holding `lsn` on `timeline`. */
export function segmentForLsn(lsn: bigint, timeline: number, segSize = DEFAULT_SEGMENT_SIZE): string {
  return segmentName(timeline, lsn / BigInt(segSize), segSize);
}

export function historyFileName(timeline: number): string {
  return `${hex8(timeline)}.history`;
}

/** One line of a timeline history file: the parent timeline ended at switchLsn. */
export interface TimelineSwitch {
  parent: number;
  switchLsn: bigint;
}

/** Parses "1\t0/3000000\tbefore 2026-11-23 ..." lines. */
export function parseHistory(text: string): TimelineSwitch[] {
  const out: TimelineSwitch[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [tli, lsn] = t.split(/\s+/);
    if (!tli || !lsn) continue;
    out.push({ parent: Number(tli), switchLsn: parseLsn(lsn) });
  }
  return out;
}

export interface WalObject {
  name: string;
  /** The digest in the object's name: sha256 or (format 2, encrypted) the keyed hash. */
  hash: string;
  codec: Codec;
  format: 1 | 2;
  key: string;
  size: number;
  mtime: Date;
}

/** Ancestors of `timeline` with the LSN at which each was left, from its history file. */
export type Ancestry = Map<number, bigint>;

export function ancestry(switches: TimelineSwitch[]): Ancestry {
  return new Map(switches.map((s) => [s.parent, s.switchLsn]));
}
