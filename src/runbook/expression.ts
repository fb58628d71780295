import jsep from 'jsep';
import { ExpressionError } from '../errors.js';

// Expressions inside ${...} and `if:`. Parsed by jsep and evaluated over a plain scope by a
// small interpreter: member access, literals, comparison, logic, arithmetic, ?: and a few
// named functions. No eval, no new Function, no prototype access.

export type Expr = jsep.Expression;

// Step ids are kebab-case (counts-before), as in GitHub Actions: inside an identifier a '-' is
// part of the name; subtraction needs spaces around the minus (a - b).
jsep.addIdentifierChar('-');


const ROOTS = ['env', 'inputs', 'steps', 'run'] as const;
export type Root = (typeof ROOTS)[number];

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  contains: (hay, needle) =>
    Array.isArray(hay) ? hay.includes(needle) : String(hay ?? '').includes(String(needle ?? '')),
  startsWith: (s, p) => String(s ?? '').startsWith(String(p ?? '')),
  endsWith: (s, p) => String(s ?? '').endsWith(String(p ?? '')),
  lower: (s) => String(s ?? '').toLowerCase(),
  upper: (s) => String(s ?? '').toUpperCase(),
  number: (s) => Number(s),
  string: (s) => (s === undefined || s === null ? '' : String(s)),
  json: (s) => JSON.stringify(s),
  default: (v, d) => (v === undefined || v === null || v === '' ? d : v),
  // In a shell command, raw(x) pastes x as shell code instead of quoting it; elsewhere it is x.
  raw: (v) => v,
};

/** Parses an expression; throws ExpressionError with jsep's message. */
export function parseExpression(source: string): Expr {
  try {
    return jsep(source);
  } catch (err) {
    throw new ExpressionError(`bad expression "${source}": ${(err as Error).message}`);
  }
}

/** A reference such as ['steps', 'restore', 'outputs', 'restored'], found in an expression. */
export type Reference = string[];

/** Every member chain rooted at an identifier, and every problem that makes the tree unusable. */
export function analyze(expr: Expr): { refs: Reference[]; problems: string[] } {
  const refs: Reference[] = [];
  const problems: string[] = [];
  const visit = (node: Expr): void => {
    switch (node.type) {
      case 'Literal':
        return;
      case 'Identifier':
      case 'MemberExpression': {
        const chain = memberChain(node);
        if (!chain) {
          problems.push('only references like steps.<id>.outputs.<key> can be accessed');
          return;
        }
        refs.push(chain);
        return;
      }
      case 'BinaryExpression':
      case 'LogicalExpression':
        visit(node.left as Expr);
        visit(node.right as Expr);
        return;
      case 'UnaryExpression':
        visit(node.argument as Expr);
        return;
      case 'ConditionalExpression':
        visit(node.test as Expr);
        visit(node.consequent as Expr);
        visit(node.alternate as Expr);
        return;
      case 'CallExpression': {
        const callee = node.callee as Expr;
        if (callee.type !== 'Identifier' || !(String(callee.name) in FUNCTIONS)) {
          problems.push(`unknown function; available: ${Object.keys(FUNCTIONS).join(', ')}`);
          return;
        }
        for (const a of node.arguments as Expr[]) visit(a);
        return;
      }
      case 'ArrayExpression':
        for (const e of node.elements as (Expr | null)[]) if (e) visit(e);
        return;
      default:
        problems.push(`unsupported expression (${node.type})`);
    }
  };
  visit(expr);
  return { refs, problems };
}

function memberChain(node: Expr): string[] | undefined {
  if (node.type === 'Identifier') return [String(node.name)];
  if (node.type !== 'MemberExpression') return undefined;
  const base = memberChain(node.object as Expr);
  if (!base) return undefined;
  const prop = node.property as Expr;
  if (!node.computed && prop.type === 'Identifier') return [...base, String(prop.name)];
  if (node.computed && prop.type === 'Literal' && (typeof prop.value === 'string' || typeof prop.value === 'number')) {
    return [...base, String(prop.value)];
  }
  return undefined;
}

/** Resolves a reference against the scope; `missing` decides what an absent value becomes. */
export type Resolver = (ref: Reference) => unknown;

/** Evaluates an expression; references go through `resolve`, which may throw. */
export function evaluate(expr: Expr, resolve: Resolver): unknown {
  switch (expr.type) {
    case 'Literal':
      return expr.value;
    case 'Identifier':
    case 'MemberExpression': {
      const chain = memberChain(expr);
      if (!chain) throw new ExpressionError('unsupported member access');
      return resolve(chain);
    }
    case 'UnaryExpression': {
      const v = evaluate(expr.argument as Expr, resolve);
      switch (expr.operator) {
        case '!':
          return !truthy(v);
        case '-':
          return -Number(v);
        case '+':
          return Number(v);
        default:
          throw new ExpressionError(`unsupported operator ${String(expr.operator)}`);
      }
    }
    case 'BinaryExpression':
    case 'LogicalExpression': {
      const op = String(expr.operator);
      if (op === '&&') {
        const l = evaluate(expr.left as Expr, resolve);
        return truthy(l) ? evaluate(expr.right as Expr, resolve) : l;
      }
      if (op === '||') {
        const l = evaluate(expr.left as Expr, resolve);
        return truthy(l) ? l : evaluate(expr.right as Expr, resolve);
      }
      const l = evaluate(expr.left as Expr, resolve);
      const r = evaluate(expr.right as Expr, resolve);
      return binary(op, l, r);
    }
    case 'ConditionalExpression':
      return truthy(evaluate(expr.test as Expr, resolve))
        ? evaluate(expr.consequent as Expr, resolve)
        : evaluate(expr.alternate as Expr, resolve);
    case 'CallExpression': {
      const callee = expr.callee as Expr;
      const fn = callee.type === 'Identifier' ? FUNCTIONS[String(callee.name)] : undefined;
      if (!fn || !Object.hasOwn(FUNCTIONS, String(callee.name))) throw new ExpressionError('unknown function');
      return fn(...(expr.arguments as Expr[]).map((a) => evaluate(a, resolve)));
    }
    case 'ArrayExpression':
      return (expr.elements as (Expr | null)[]).map((e) => (e ? evaluate(e, resolve) : null));
    default:
      throw new ExpressionError(`unsupported expression (${expr.type})`);
  }
}

// Values from templates are often strings ("true", "3"): compare them as their natural type.
function coerce(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return v;
}

function binary(op: string, l: unknown, r: unknown): unknown {
  switch (op) {
    case '==':
    case '===':
      return coerce(l) === coerce(r);
    case '!=':
    case '!==':
      return coerce(l) !== coerce(r);
    case '<':
      return Number(coerce(l)) < Number(coerce(r));
    case '>':
      return Number(coerce(l)) > Number(coerce(r));
    case '<=':
      return Number(coerce(l)) <= Number(coerce(r));
    case '>=':
      return Number(coerce(l)) >= Number(coerce(r));
    case '+':
      return typeof l === 'number' && typeof r === 'number' ? l + r : `${str(l)}${str(r)}`;
    case '-':
      return Number(l) - Number(r);
    case '*':
      return Number(l) * Number(r);
    case '/':
      return Number(l) / Number(r);
    case '%':
      return Number(l) % Number(r);
    default:
      throw new ExpressionError(`unsupported operator ${op}`);
  }
}

function str(v: unknown): string {
  return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Truth as a runbook author means it: "false", "0", "" and "no" are false. */
export function truthy(v: unknown): boolean {
  if (typeof v === 'string') return !['', 'false', '0', 'no', 'off'].includes(v.trim().toLowerCase());
  return Boolean(v);
}

export { ROOTS };
