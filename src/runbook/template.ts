import { renderShell } from './shell-template.js';
import { ExpressionError } from '../errors.js';
import { analyze, evaluate, parseExpression, type Expr, type Reference, type Resolver } from './expression.js';

// `${...}` templates in `with:` values and `if:`. A string that is exactly one `${expr}` keeps
// the expression's type (a boolean output stays boolean); mixed text renders to a string.
// `$${` is a literal `${`.

export interface Segment {
  text?: string;
  expr?: Expr;
  source?: string;
  /** Offset of the `${` in the template string, for error columns. */
  offset: number;
}

/** Splits a template into literal and expression segments; throws ExpressionError. */
export function parseTemplate(template: string): Segment[] {
  const out: Segment[] = [];
  let i = 0;
  let literal = '';
  let literalStart = 0;
  while (i < template.length) {
    if (template.startsWith('$${', i)) {
      literal += '${';
      i += 3;
      continue;
    }
    if (template.startsWith('${', i)) {
      const end = findClose(template, i + 2);
      if (end < 0) throw new ExpressionError(`unclosed "\${" at offset ${i}`);
      if (literal) out.push({ text: literal, offset: literalStart });
      const source = template.slice(i + 2, end).trim();
      if (!source) throw new ExpressionError('empty ${}');
      out.push({ expr: parseExpression(source), source, offset: i });
      i = end + 1;
      literal = '';
      literalStart = i;
      continue;
    }
    literal += template[i];
    i++;
  }
  if (literal) out.push({ text: literal, offset: literalStart });
  return out;
}

function findClose(s: string, from: number): number {
  let quote: string | undefined;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '}') return i;
  }
  return -1;
}

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
