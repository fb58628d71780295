import type { Manifest } from './manifest.js';
import { bySource, distinctLabels } from './source.js';

// Which backups a retention policy keeps. Pure: the caller lists, this decides, the caller
// deletes (or only prints, without --confirm).

export interface RetentionPolicy {
  keepLast?: number;
  keepDays?: number;
}

export interface RetentionDecision {
  keep: { id: string; why: string }[];
  remove: { id: string; why: string }[];
}

/**
 * Per database (kind and source, see source.ts): keep the N newest and those younger than D
 * days; at least the newest is always kept. Counting across databases would let the hourly
 * dumps of one push the nightly dumps of another out of --keep-last.
 */
export function decideRetention(backups: Manifest[], p: RetentionPolicy, now = new Date()): RetentionDecision {
  const out: RetentionDecision = { keep: [], remove: [] };
  const groups = [...bySource(backups).values()];
  const labels = distinctLabels(groups.map((g) => g.source));
  groups.forEach((g, i) => {
    const of = `${g.backups[0]!.kind} backup of ${labels[i]}`;
    const newestFirst = [...g.backups].sort((a, b) => (a.stoppedAt < b.stoppedAt ? 1 : -1));
    newestFirst.forEach((b, index) => {
      const ageDays = (now.getTime() - Date.parse(b.stoppedAt)) / 86_400_000;
      if (index === 0) out.keep.push({ id: b.id, why: `newest ${of}` });
      else if (p.keepLast !== undefined && index < p.keepLast) out.keep.push({ id: b.id, why: `among the last ${p.keepLast} of ${labels[i]}` });
      else if (p.keepDays !== undefined && ageDays <= p.keepDays) out.keep.push({ id: b.id, why: `younger than ${p.keepDays} days` });
      else {
        const reasons = [p.keepLast !== undefined ? `not among the last ${p.keepLast} of ${labels[i]}` : '', p.keepDays !== undefined ? `${ageDays.toFixed(1)} days old` : '']
          .filter(Boolean)
          .join(', ');
        out.remove.push({ id: b.id, why: reasons });
      }
    });
  });
  return out;
}
