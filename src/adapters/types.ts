import type { z } from 'zod';
import type { DbStats, Manifest } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';

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
  /** The step's own `timeout:`, when the runbook sets one (the signal enforces it). */
  stepTimeoutMs?: number;
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
  /** The backup kinds of every adapter, by manifest kind: how to check or test-restore a backup. */
  backupKinds: ReadonlyMap<string, BackupKind>;
}

/** Where a test restore may go: a PostgreSQL URL to create a database on, 'auto' or none for a throwaway cluster. */
export interface TestRestoreOptions {
  scratch?: string;
}

/** A kind of backup an adapter stores in the repository: the manifest's `kind`. */
export interface BackupKind {
  name: string;
  /** The action that restores it. */
  restore: Action;
  /** Restores the backup somewhere harmless and returns what it holds, for verify-backups --test-restore. */
  testRestore?(ctx: ActionContext, repo: Repository, m: Manifest, o: TestRestoreOptions): Promise<DbStats>;
  /** True when a test restore must reproduce the recorded statistics exactly (a snapshot), not within the row tolerance. */
  exactStats?: boolean;
}

/** What an adapter folder's index.ts exports: its actions and, when it stores backups, their kinds. */
export interface Adapter {
  actions: readonly Action[];
  backupKinds?: readonly BackupKind[];
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
