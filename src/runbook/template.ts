import { renderShell } from './shell-template.js';
import { analyze, evaluate, type Expr, type Reference, type Resolver } from './expression.js';
import { parseTemplate } from './template-parse.js';

// `${...}` templates in `with:` values and `if:`. A string that is exactly one `${expr}` keeps
// the expression's type (a boolean output stays boolean); mixed text renders to a string.
// `$${` is a literal `${` (template-parse.ts).

/** True when the string contains at least one `${`. */
export function isTemplate(value: string): boolean {
  return /(^|[^$])\$\{/.test(value);
}

/** References used by a template, with the offset of the expression they come from. */
export function templateReferences(template: string): { refs: Reference[]; problems: string[]; offset: number }[] {
  return parseTemplate(template)
    .filter((s) => s.expr)
    .map((s) => ({ ...analyze(s.expr as Expr), offset: s.offset }));
}

/** Renders a template string. */
export function renderString(template: string, resolve: Resolver): unknown {
  const segs = parseTemplate(template);
  const only = segs.length === 1 ? segs[0] : undefined;
  if (only?.expr) return evaluate(only.expr, resolve);
  return segs
    .map((s) => {
      if (!s.expr) return s.text ?? '';
      const v = evaluate(s.expr, resolve);
      return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    })
    .join('');
}

/**
 * Renders every string inside a JSON-like value. Top-level keys named in `shellKeys` are shell
 * command lines: their interpolated values are quoted as literal words.
 */
export function renderDeep(value: unknown, resolve: Resolver, shellKeys: readonly string[] = []): unknown {
  if (shellKeys.length && value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, shellKeys.includes(k) && typeof v === 'string' ? renderShell(v, resolve) : renderDeep(v, resolve)]),
    );
  }
  if (typeof value === 'string') return isTemplate(value) || value.includes('$${') ? renderString(value, resolve) : value;
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, resolve));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, resolve)]));
  }
  return value;
}

/** Every string in a JSON-like value with its key path, for reference checks. */
export function* walkStrings(value: unknown, path: (string | number)[] = []): Generator<[string, (string | number)[]]> {
  if (typeof value === 'string') yield [value, path];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* walkStrings(v, [...path, i]);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) yield* walkStrings(v, [...path, k]);
}
