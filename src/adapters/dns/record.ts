import { z } from 'zod';

// What dns.update and its providers agree on: one record set, its values as strings.

export const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'MX'] as const;

export const RecordInput = {
  zone: z.string().min(1).meta({ description: 'zone name (example.com) or the provider zone id' }),
  name: z.string().min(1).meta({ description: 'record name: app.example.com, or app (relative to the zone)' }),
  type: z.enum(RECORD_TYPES).default('A'),
  ttl: z.number().int().min(1).max(604800).default(60),
};

export interface RecordSet {
  /** Fully qualified, without the trailing dot. */
  name: string;
  type: (typeof RECORD_TYPES)[number];
  values: string[];
  ttl: number;
}

export interface UpdateResult {
  previous?: { values: string[]; ttl: number };
  changeId: string;
  status: string;
}

/** app + example.com → app.example.com; app.example.com. → app.example.com. */
export function fqdn(name: string, zoneName: string | undefined): string {
  const n = name.replace(/\.$/, '').toLowerCase();
  if (!zoneName) return n;
  const z = zoneName.replace(/\.$/, '').toLowerCase();
  if (n === '@') return z;
  return n === z || n.endsWith(`.${z}`) ? n : `${n}.${z}`;
}

/** A zone given by name has a dot; provider zone ids do not. */
export function isZoneName(zone: string): boolean {
  return zone.includes('.');
}
