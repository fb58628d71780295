import type { z } from 'zod';
import type { Registry } from '../adapters/registry.js';
import { ExpressionError } from '../errors.js';
import { parseExpression, analyze, type Reference } from './expression.js';
import { checkShellTemplate } from './shell-template.js';
import { isTemplate, templateReferences, walkStrings } from './template.js';

// Cross-field rules the shape alone cannot express: unknown actions and their `with:` inputs,
// duplicate ids, onFailure targets, and every ${...} reference. Each problem carries the key
// path (and offset inside a string) so the loader can give it a line and column.

export interface RuleProblem {
  path: (string | number)[];
  message: string;
  /** Point at the key rather than the value. */
  atKey?: boolean;
  /** Offset inside the string value, for template problems. */
  offset?: number;
  /** Allowed but worth a look: validate prints it and still passes. */
  warning?: boolean;
}

const STEP_FIELDS = new Set(['outputs', 'status', 'durationMs', 'attempts', 'error']);
const RUN_FIELDS = new Set(['id', 'name', 'status', 'elapsed', 'startedAt']);
const SPECIAL_ON_FAILURE = new Set(['abort', 'continue']);

type Section = 'steps' | 'finally';

/** A step as the rules see it: possibly malformed, so that all problems show at once. */
export interface RuleStep {
  id: string;
  uses: string;
  with: Record<string, unknown>;
  if?: string | boolean;
  onFailure: string;
  parallel?: boolean;
}

/** The parts of a runbook the rules read. */
export interface RuleRunbook {
  inputs: Record<string, { default?: unknown }>;
  steps: RuleStep[];
  finally: RuleStep[];
}

/** What the rules can read from a document that failed the schema: fields of the wrong type are left out. */
export function looseRunbook(raw: Record<string, unknown>): RuleRunbook {
  const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const steps = (v: unknown): RuleStep[] =>
    (Array.isArray(v) ? v : []).map((x) => {
      const s = obj(x);
      return {
        id: typeof s.id === 'string' ? s.id : '',
        uses: typeof s.uses === 'string' ? s.uses : '',
        with: obj(s.with),
        if: typeof s.if === 'string' || typeof s.if === 'boolean' ? s.if : undefined,
        onFailure: typeof s.onFailure === 'string' ? s.onFailure : 'abort',
        parallel: s.parallel === true,
      };
    });
  const inputs = Object.fromEntries(Object.entries(obj(raw.inputs)).map(([k, v]) => [k, obj(v)]));
  return { inputs, steps: steps(raw.steps), finally: steps(raw.finally) };
}

export function checkRunbook(rb: RuleRunbook, registry: Registry): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const all: { step: RuleStep; section: Section; index: number }[] = [
    ...rb.steps.map((step, index) => ({ step, section: 'steps' as const, index })),
    ...rb.finally.map((step, index) => ({ step, section: 'finally' as const, index })),
  ];

  const seen = new Map<string, (string | number)[]>();
  for (const { step, section, index } of all) {
    if (!step.id) continue;
    if (seen.has(step.id)) {
      problems.push({ path: [section, index, 'id'], message: `duplicate step id "${step.id}"` });
    } else seen.set(step.id, [section, index]);
  }

  for (const [name, spec] of Object.entries(rb.inputs)) {
    if (typeof spec.default === 'string' && isTemplate(spec.default)) {
      checkTemplate(spec.default, ['inputs', name, 'default'], problems, (ref) =>
        ref[0] === 'env' ? checkEnvRef(ref) : `input defaults may only use \${env.*}, not ${ref.join('.')}`,
      );
    }
  }

  for (const { step, section, index } of all) {
    const here: (string | number)[] = [section, index];
    const action = registry.has(step.uses) ? registry.get(step.uses) : undefined;
    if (!step.uses) {
      // missing or malformed: the schema has said so
    } else if (!action) {
      const hint = registry.suggest(step.uses);
      problems.push({
        path: [...here, 'uses'],
        message: `unknown action "${step.uses}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
      });
    } else {
      problems.push(...checkWith(action.input, step.with, [...here, 'with']));
    }

    if (!SPECIAL_ON_FAILURE.has(step.onFailure) && /^[a-z][a-z0-9_-]*$/i.test(step.onFailure)) {
      const list = section === 'steps' ? rb.steps : rb.finally;
      const target = list.findIndex((s) => s.id === step.onFailure);
      if (target < 0) {
        problems.push({ path: [...here, 'onFailure'], message: `no step "${step.onFailure}" in ${section}` });
      } else if (target <= index) {
        problems.push({ path: [...here, 'onFailure'], message: `"${step.onFailure}" must come after "${step.id}"` });
      }
    }

    if (step.parallel && section === 'steps' && !SPECIAL_ON_FAILURE.has(step.onFailure)) {
      problems.push({ path: [...here, 'onFailure'], message: 'a parallel step can only abort or continue on failure' });
    }
    // Steps may refer to earlier steps (not to those running beside them in a parallel batch);
    // finally steps to any main step and earlier finally steps.
    let batchStart = index;
    if (section === 'steps' && step.parallel) while (batchStart > 0 && rb.steps[batchStart - 1]?.parallel) batchStart--;
    const visible = new Map<string, RuleStep>();
    for (const s of rb.steps.slice(0, section === 'steps' ? batchStart : undefined)) visible.set(s.id, s);
    if (section === 'finally') for (const s of rb.finally.slice(0, index)) visible.set(s.id, s);
    const resolve = (ref: Reference) => checkRef(ref, rb, visible, registry);

    for (const [value, sub] of walkStrings(step.with)) {
      if (isTemplate(value)) checkTemplate(value, [...here, 'with', ...sub], problems, resolve);
    }
    for (const key of action?.shellInputs ?? []) {
      const value = step.with[key];
      if (typeof value !== 'string' || !isTemplate(value)) continue;
      for (const p of checkShellTemplate(value)) problems.push({ path: [...here, 'with', key], ...p });
    }
    if (typeof step.if === 'string') {
      if (isTemplate(step.if)) checkTemplate(step.if, [...here, 'if'], problems, resolve);
      else {
        try {
          const { refs, problems: p } = analyze(parseExpression(step.if));
          for (const m of p) problems.push({ path: [...here, 'if'], message: m });
          for (const r of refs) {
            const m = resolve(r);
            if (m) problems.push({ path: [...here, 'if'], message: m });
          }
        } catch (err) {
          problems.push({ path: [...here, 'if'], message: (err as Error).message });
        }
      }
    }
  }
  return problems;
}

function checkTemplate(
  value: string,
  path: (string | number)[],
  problems: RuleProblem[],
  check: (ref: Reference) => string | undefined,
): void {
  try {
    for (const { refs, problems: p, offset } of templateReferences(value)) {
      for (const m of p) problems.push({ path, message: m, offset });
      for (const ref of refs) {
        const m = check(ref);
        if (m) problems.push({ path, message: m, offset });
      }
    }
  } catch (err) {
    if (err instanceof ExpressionError) problems.push({ path, message: err.message });
    else throw err;
  }
}

function checkEnvRef(ref: Reference): string | undefined {
  if (ref.length !== 2) return `\${${ref.join('.')}}: use \${env.NAME}`;
  return undefined;
}

function checkRef(ref: Reference, rb: RuleRunbook, visible: Map<string, RuleStep>, registry: Registry): string | undefined {
  const [root, name, field, key] = ref;
  const shown = `\${${ref.join('.')}}`;
  switch (root) {
    case 'env':
      return checkEnvRef(ref);
    case 'inputs':
      if (!name) return `${shown}: use \${inputs.<name>}`;
      if (!Object.hasOwn(rb.inputs, name)) {
        const known = Object.keys(rb.inputs);
        return `unknown input "${name}" in ${shown}${known.length ? ` (inputs: ${known.join(', ')})` : ' (the runbook declares no inputs)'}`;
      }
      return undefined;
    case 'run':
      if (!name || !RUN_FIELDS.has(name) || ref.length > 2) return `${shown}: run has ${[...RUN_FIELDS].join(', ')}`;
      return undefined;
    case 'steps': {
      if (!name) return `${shown}: use \${steps.<id>.outputs.<key>}`;
      const step = visible.get(name);
      if (!step) {
        const exists = [...rb.steps, ...rb.finally].some((s) => s.id === name);
        return exists ? `${shown}: step "${name}" runs later and has no outputs yet` : `unknown step "${name}" in ${shown}`;
      }
      if (!field || !STEP_FIELDS.has(field)) return `${shown}: a step has ${[...STEP_FIELDS].join(', ')}`;
      if (field === 'outputs') {
        if (!key) return `${shown}: name the output, e.g. \${steps.${name}.outputs.<key>}`;
        const action = registry.has(step.uses) ? registry.get(step.uses) : undefined;
        if (action && !action.outputs.includes(key)) {
          return `${shown}: ${step.uses} has no output "${key}" (outputs: ${action.outputs.join(', ') || 'none'})`;
        }
      }
      return undefined;
    }
    default:
      return `unknown reference ${shown}: use env, inputs, steps or run`;
  }
}

/** `with:` against the action's schema; values that are templates are checked at run time. */
function checkWith(schema: z.ZodType, value: Record<string, unknown>, base: (string | number)[]): RuleProblem[] {
  const r = schema.safeParse(value);
  if (r.success) return [];
  const out: RuleProblem[] = [];
  for (const issue of r.error.issues) {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    // Templated values are checked at run time, once they have a value.
    if (containsTemplate(getAt(value, path))) continue;
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) out.push({ path: [...base, ...path, k], message: `unknown input "${k}"`, atKey: true });
      continue;
    }
    out.push({ path: [...base, ...path], message: issue.message });
  }
  return out;
}

function containsTemplate(value: unknown): boolean {
  for (const [s] of walkStrings(value)) if (isTemplate(s)) return true;
  return false;
}

function getAt(value: unknown, path: (string | number)[]): unknown {
  let cur = value;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}
