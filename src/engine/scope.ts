import { TemplateError } from '../errors.js';
import type { Reference, Resolver } from '../runbook/expression.js';
import { formatDuration } from '../time/duration.js';

// What ${env.*}, ${inputs.*}, ${steps.*} and ${run.*} resolve to while a runbook runs.

export interface StepState {
  status: string;
  outputs: Record<string, unknown>;
  durationMs: number;
  attempts: number;
  error?: string;
}

export class Scope {
  readonly steps = new Map<string, StepState>();
  status = 'running';

  constructor(
    readonly env: Readonly<Record<string, string | undefined>>,
    readonly inputs: Readonly<Record<string, unknown>>,
    readonly run: { id: string; name: string; startedAt: number },
  ) {}

  /** Strict: a reference that cannot be resolved is an error, never an empty string. */
  strict(): Resolver {
    return (ref) => this.lookup(ref, (msg) => {
      throw new TemplateError(msg);
    });
  }

  /** For plan and dry runs: unknown values show as <placeholders>. */
  lenient(): Resolver {
    return (ref) => this.lookup(ref, () => `<${ref.join('.')}>`);
  }

  private lookup(ref: Reference, missing: (message: string) => unknown): unknown {
    const [root, name, field, ...rest] = ref;
    const shown = `\${${ref.join('.')}}`;
    switch (root) {
      case 'env': {
        const v = name !== undefined && Object.hasOwn(this.env, name) ? this.env[name] : undefined;
        return v === undefined ? missing(`${shown}: environment variable ${name} is not set`) : v;
      }
      case 'inputs': {
        // A declared input without a value is undefined (optional inputs); an undeclared one is an error.
        return name !== undefined && Object.hasOwn(this.inputs, name) ? this.inputs[name] : missing(`${shown}: no input "${name}"`);
      }
      case 'run': {
        const elapsed = Date.now() - this.run.startedAt;
        const values: Record<string, unknown> = {
          id: this.run.id,
          name: this.run.name,
          status: this.status,
          elapsed: formatDuration(elapsed),
          startedAt: new Date(this.run.startedAt).toISOString(),
        };
        return name !== undefined && Object.hasOwn(values, name) ? values[name] : missing(`${shown}: unknown`);
      }
      case 'steps': {
        const s = name === undefined ? undefined : this.steps.get(name);
        if (!s) return missing(`${shown}: step "${name}" has not run`);
        if (field === 'outputs') {
          const key = rest[0];
          if (key === undefined) return s.outputs;
          if (!Object.hasOwn(s.outputs, key)) {
            return missing(`${shown}: step "${name}" ${s.status === 'succeeded' ? 'has no output' : `${s.status}, so it has no output`} "${key}"`);
          }
          let v: unknown = s.outputs[key];
          for (const k of rest.slice(1)) v = v !== null && typeof v === 'object' && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
          return v;
        }
        if (field === 'status') return s.status;
        if (field === 'durationMs') return s.durationMs;
        if (field === 'attempts') return s.attempts;
        if (field === 'error') return s.error ?? '';
        return missing(`${shown}: unknown step field`);
      }
      default:
        return missing(`${shown}: unknown reference`);
    }
  }
}
