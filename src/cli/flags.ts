import { UsageError } from '../errors.js';

// Flag values are checked here, where the flag's name is known, so a bad value is one line
// naming the flag and exit 2, not a step failing later with a schema library's wording (and
// exit 1, which pages on-call as if a backup had failed).

/** A whole number within [min, max], or undefined when the flag was not given. */
export function intFlag(flag: string, v: string | undefined, o: { min: number; max?: number; what?: string }): string | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  const what = o.what ?? (o.max === undefined ? (o.min === 0 ? 'a whole number' : `a whole number of at least ${o.min}`) : `a whole number from ${o.min} to ${o.max}`);
  if (!Number.isSafeInteger(n) || n < o.min || (o.max !== undefined && n > o.max)) throw new UsageError('usage.flag', `${flag} ${v}: expected ${what}`);
  return String(n);
}

/** A TCP port. */
export function portFlag(flag: string, v: string | undefined): string | undefined {
  return intFlag(flag, v, { min: 1, max: 65535, what: 'a port from 1 to 65535' });
}

/** A decimal number within [min, max] (max omitted: no upper bound). */
export function numberFlag(flag: string, v: string | undefined, o: { min: number; max?: number; example: string }): string | undefined {
  if (v === undefined) return undefined;
  const n = /^\d*\.?\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
  const range = o.max === undefined ? `at least ${o.min}` : `from ${o.min} to ${o.max}`;
  if (!Number.isFinite(n) || n < o.min || (o.max !== undefined && n > o.max)) {
    throw new UsageError('usage.flag', `${flag} ${v}: expected a number ${range}, such as ${o.example}`);
  }
  return String(n);
}

/** A PostgreSQL connection URL. */
export function pgUrlFlag(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//i.test(v.trim())) throw new UsageError('usage.flag', `${flag}: expected a PostgreSQL URL (postgres://user@host:5432/db)`);
  return v;
}

/** Refuses the flags that were given but cannot apply to the chosen mode, naming all of them. */
export function refuseFlags(given: Record<string, boolean>, why: string): void {
  const bad = Object.entries(given).filter(([, on]) => on).map(([flag]) => flag);
  if (bad.length) throw new UsageError('usage.flagConflict', `${bad.join(', ')}: ${why}`);
}
