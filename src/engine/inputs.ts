import { UsageError } from '../errors.js';
import { secrets } from '../redact.js';
import type { Runbook } from '../runbook/schema.js';
import { isTemplate, renderString } from '../runbook/template.js';
import { parseTimePoint } from '../time/time-point.js';

// Runbook inputs from --var k=v, defaults (which may use ${env.*}), and required checks.

/** Splits repeated --var k=v flags; a malformed one is a usage error naming it. */
export function parseVars(vars: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of vars) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var ${v}: expected name=value`, 'usage.var');
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** The value of every declared input, typed; secret ones registered for redaction. */
export function resolveInputs(
  rb: Runbook,
  given: Record<string, string>,
  env: Readonly<Record<string, string | undefined>>,
  opts: { lenient?: boolean; now?: Date } = {},
): Record<string, unknown> {
  // One instant for every relative time of the run: "10 minutes ago" means the same moment
  // to every step and in the report, however long the steps before it take.
  const now = opts.now ?? new Date();
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(rb.inputs, name)) {
      const known = Object.keys(rb.inputs);
      throw new UsageError(`--var ${name}: runbook "${rb.name}" has no input "${name}"${known.length ? ` (inputs: ${known.join(', ')})` : ''}`, 'usage.var');
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(rb.inputs)) {
    let value: unknown = given[name];
    if (value === undefined && spec.default !== undefined) {
      value =
        typeof spec.default === 'string' && isTemplate(spec.default)
          ? renderString(spec.default, (ref) => env[ref[1] ?? ''] ?? (opts.lenient ? `<${ref.join('.')}>` : undefined))
          : spec.default;
      if (value === '') value = undefined;
    }
    if (value === undefined) {
      if (spec.required && !opts.lenient) throw new UsageError(`input "${name}" is required: pass --var ${name}=...`, 'usage.var');
      out[name] = undefined;
      continue;
    }
    try {
      out[name] = convert(name, spec.type, value, now);
    } catch (err) {
      // plan and dry runs show an unset ${env.X} default as <env.X>, which is no time.
      if (!(opts.lenient && typeof value === 'string' && /^<.*>$/.test(value))) throw err;
      out[name] = value;
    }
    if (spec.secret) secrets.add(String(out[name]));
  }
  return out;
}

function convert(name: string, type: 'string' | 'number' | 'boolean' | 'time', value: unknown, now: Date): unknown {
  if (type === 'string' || typeof value !== 'string') return value;
  if (type === 'time') return value.trim() === 'latest' ? 'latest' : parseTimePoint(value, `--var ${name}`, now).toISOString();
  if (type === 'number') {
    const n = Number(value);
    if (value.trim() === '' || Number.isNaN(n)) throw new UsageError(`--var ${name}=${value}: not a number`, 'usage.var');
    return n;
  }
  if (/^(true|yes|1)$/i.test(value)) return true;
  if (/^(false|no|0)$/i.test(value)) return false;
  throw new UsageError(`--var ${name}=${value}: not a boolean (true/false)`, 'usage.var');
}
