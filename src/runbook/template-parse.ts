import { ExpressionError } from '../errors.js';
import { parseExpression, type Expr } from './expression.js';

// Splitting `${...}` templates into literal text and parsed expressions; `$${` is a literal `${`.
// Shared by value templates (template.ts) and shell command templates (shell-template.ts).

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
