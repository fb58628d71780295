import type { Manifest } from './manifest.js';

// Which database a backup is of. One repository may hold the backups of several databases and
// servers; retention counts, and "latest" chooses, within one of them, never across.
//
// A PostgreSQL cluster is named by its system identifier when the manifest records one: it
// stays the same across host names (localhost or 127.0.0.1, a DNS change), failovers, and a
// cluster restored from a base backup that carries on in its place, while two clusters set up
// apart never share it. Without one (older manifests, other kinds) the host and port name the
// server. A base backup holds the whole cluster, whatever database it connected to; a logical
// one holds one database of it; an env backup holds one file.

export interface BackupSource {
  /** Equal for backups of the same kind of the same database. */
  key: string;
  /** For people: "app on db.internal:5432", "cluster db.internal:5432". */
  label: string;
  /** The cluster's system identifier, to tell apart two sources whose labels are the same. */
  system?: string;
}

function text(v: string | number | boolean | null | undefined): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

export function backupSource(m: Manifest): BackupSource {
  const s = m.source;
  const system = text(s.systemIdentifier);
  const host = text(s.host);
  const server = host === undefined ? undefined : `${host}${text(s.port) ? `:${s.port}` : ''}`;
  // A physical backup (it has WAL positions) is of the cluster, not of the database it used.
  const database = m.pg ? undefined : text(s.database);
  const file = text(s.file);
  const key = JSON.stringify([m.kind, system ? `system ${system}` : (server ?? null), database ?? null, file ?? null]);
  const where = server ?? (system ? `system ${system}` : undefined);
  const what = database ?? file;
  const label = what ? `${what}${where ? ` on ${where}` : ''}` : where ? `${m.pg ? 'cluster ' : ''}${where}` : `${m.kind} backups of an unrecorded source`;
  return { key, label, system };
}

/** Backups grouped by source, each group oldest first as given. */
export function bySource(backups: Manifest[]): Map<string, { source: BackupSource; backups: Manifest[] }> {
  const groups = new Map<string, { source: BackupSource; backups: Manifest[] }>();
  for (const b of backups) {
    const source = backupSource(b);
    const g = groups.get(source.key) ?? { source, backups: [] };
    g.backups.push(b);
    groups.set(source.key, g);
  }
  return groups;
}

/** Labels for several sources, with the system identifier added where two would read the same. */
export function distinctLabels(sources: BackupSource[]): string[] {
  const plain = sources.map((s) => s.label);
  return sources.map((s, i) => (plain.filter((l) => l === plain[i]).length > 1 && s.system ? `${s.label} (system ${s.system})` : s.label));
}

/** "app on db:5432 (newest <id>), billing on db:5432 (newest <id>)", naming the kind where they differ. */
export function describeSources(groups: { source: BackupSource; backups: Manifest[] }[]): string {
  const labels = distinctLabels(groups.map((g) => g.source));
  const kinded = new Set(groups.map((g) => g.backups[0]!.kind)).size > 1;
  return groups.map((g, i) => `${labels[i]} (${kinded ? `${g.backups[0]!.kind}, ` : ''}newest ${g.backups[g.backups.length - 1]!.id})`).join(', ');
}
