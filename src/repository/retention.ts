import type { Manifest } from './manifest.js';

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

/** Per kind: keep the N newest and those younger than D days; at least the newest is always kept. */
export function decideRetention(backups: Manifest[], p: RetentionPolicy, now = new Date()): RetentionDecision {
  const out: RetentionDecision = { keep: [], remove: [] };
  const kinds = [...new Set(backups.map((b) => b.kind))];
  for (const kind of kinds) {
    const newestFirst = backups.filter((b) => b.kind === kind).sort((a, b) => (a.stoppedAt < b.stoppedAt ? 1 : -1));
    newestFirst.forEach((b, index) => {
      const ageDays = (now.getTime() - Date.parse(b.stoppedAt)) / 86_400_000;
      if (index === 0) out.keep.push({ id: b.id, why: `newest ${kind} backup` });
      else if (p.keepLast !== undefined && index < p.keepLast) out.keep.push({ id: b.id, why: `among the last ${p.keepLast}` });
      else if (p.keepDays !== undefined && ageDays <= p.keepDays) out.keep.push({ id: b.id, why: `younger than ${p.keepDays} days` });
      else {
        const reasons = [p.keepLast !== undefined ? `not among the last ${p.keepLast}` : '', p.keepDays !== undefined ? `${ageDays.toFixed(1)} days old` : '']
          .filter(Boolean)
          .join(', ');
        out.remove.push({ id: b.id, why: reasons });
      }
    });
  }
  return out;
}
