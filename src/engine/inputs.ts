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
    if (eq <= 0) throw new UsageError('usage.var', `--var ${v}: expected name=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** A required input with no value: its name, and the variable its default reads, if any. */
export interface MissingInput {
  name: string;
  env?: string;
}

/** The placeholder plan and dry runs show for a required input nobody gave. */
export function missingMarker(name: string): string {
  return `<missing: inputs.${name}>`;
}

/** "pass --var a=... (or set A)" for one input, or all of them at once: one message, exit 2. */
export function missingInputsError(missing: MissingInput[]): UsageError {
  const how = missing.map((m) => `--var ${m.name}=...${m.env ? ` (or set ${m.env})` : ''}`);
  const names = missing.map((m) => `"${m.name}"`);
  const message =
    missing.length === 1
      ? `input ${names[0]} is required: pass ${how[0]}`
      : `inputs ${names.join(', ')} are required: pass ${how.join(', ')}`;
  return new UsageError('usage.var', message);
}

/**
 * The value of every declared input, typed; secret ones registered for redaction. A required
 * input without a value is an error naming every such input at once; lenient (plan, dry run):
 * it shows as <missing: inputs.name> and is listed in `missing`.
 */
export function resolveInputs(
  rb: Runbook,
  given: Record<string, string>,
  env: Readonly<Record<string, string | undefined>>,
  opts: { lenient?: boolean; now?: Date; missing?: MissingInput[] } = {},
): Record<string, unknown> {
  // One instant for every relative time of the run: "10 minutes ago" means the same moment
  // to every step and in the report, however long the steps before it take.
  const now = opts.now ?? new Date();
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(rb.inputs, name)) {
      const known = Object.keys(rb.inputs);
      throw new UsageError('usage.var', `--var ${name}: runbook "${rb.name}" has no input "${name}"${known.length ? ` (inputs: ${known.join(', ')})` : ''}`);
    }
  }
  const out: Record<string, unknown> = {};
  const missing: MissingInput[] = [];
  for (const [name, spec] of Object.entries(rb.inputs)) {
    let value: unknown = given[name];
    let unsetEnv: string | undefined;
    if (value === undefined && spec.default !== undefined) {
      value =
        typeof spec.default === 'string' && isTemplate(spec.default)
          ? renderString(spec.default, (ref) => {
              const v = env[ref[1] ?? ''];
              if (v === undefined && ref[0] === 'env') unsetEnv ??= ref[1];
              return v ?? (opts.lenient && !spec.required ? `<${ref.join('.')}>` : undefined);
            })
          : spec.default;
      if (value === '') value = undefined;
    }
    if (value === undefined) {
      if (spec.required) {
        missing.push({ name, env: unsetEnv });
        out[name] = opts.lenient ? missingMarker(name) : undefined;
      } else out[name] = undefined;
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
  opts.missing?.push(...missing);
  if (missing.length && !opts.lenient) throw missingInputsError(missing);
  return out;
}

function convert(name: string, type: 'string' | 'number' | 'boolean' | 'time', value: unknown, now: Date): unknown {
  if (type === 'string' || typeof value !== 'string') return value;
  if (type === 'time') return value.trim() === 'latest' ? 'latest' : parseTimePoint(value, `--var ${name}`, now).toISOString();
  if (type === 'number') {
    const n = Number(value);
    if (value.trim() === '' || Number.isNaN(n)) throw new UsageError('usage.var', `--var ${name}=${value}: not a number`);
    return n;
  }
  if (/^(true|yes|1)$/i.test(value)) return true;
  if (/^(false|no|0)$/i.test(value)) return false;
  throw new UsageError('usage.var', `--var ${name}=${value}: not a boolean (true/false)`);
}
