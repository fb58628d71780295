import type { z } from 'zod';

// The one contract between the engine and every adapter. The engine knows actions only
// through this interface and the registry; it never names an adapter.

export interface Progress {
  bytes?: number;
  total?: number;
  message?: string;
}

/** What the engine gives an action while it runs. */
export interface ActionContext {
  /** Aborted on timeout or interrupt: stop, kill children, leave partial work uncommitted. */
  signal: AbortSignal;
  runId: string;
  stepId: string;
  /** 'drill' when run by `drctl drill`: actions keep a drill from touching production (no WAL archiving). */
  kind?: 'run' | 'drill';
  /** The environment the run sees (real environment over --env-file). */
  env: Readonly<Record<string, string | undefined>>;
  /** The parsed config file (drctl.yaml), if any. */
  config: Readonly<Record<string, unknown>>;
  stateDir: string;
  /** When the run started: relative times ("10 minutes ago") in a step mean before this instant. */
  runStartedAt: Date;
  log(message: string): void;
  progress(p: Progress): void;
  /** Asks the operator; resolves false when declined, throws ConfirmationError without a TTY. */
  confirm(message: string): Promise<boolean>;
  /** Marks a value secret for every output from now on. */
  secret(value: string | undefined): void;
}

export type Outputs = Record<string, unknown>;

/** An action as its module defines it, with typed input. */
export interface ActionSpec<S extends z.ZodType> {
  name: string;
  summary: string;
  input: S;
  /** Names of the outputs, for reference checks of ${steps.<id>.outputs.<key>}. */
  outputs: readonly string[];
  /** Inputs that are /bin/sh command lines: values interpolated into them are quoted as data. */
  shellInputs?: readonly string[];
  /** One line for plan / --dry-run: what would happen. Must have no side effects. */
  describe(input: z.output<S>): string;
  run(ctx: ActionContext, input: z.output<S>): Promise<Outputs>;
}

/** An action as the registry holds it: input is parsed by its own schema first. */
export interface Action {
  name: string;
  summary: string;
  input: z.ZodType;
  outputs: readonly string[];
  shellInputs: readonly string[];
  describe(input: unknown): string;
  run(ctx: ActionContext, input: unknown): Promise<Outputs>;
}

/** Erases the input type so actions of every shape fit one registry. */
export function defineAction<S extends z.ZodType>(spec: ActionSpec<S>): Action {
  return {
    name: spec.name,
    summary: spec.summary,
    input: spec.input,
    outputs: spec.outputs,
    shellInputs: spec.shellInputs ?? [],
    describe: (input) => spec.describe(spec.input.parse(input)),
    run: (ctx, input) => spec.run(ctx, spec.input.parse(input)),
  };
}
