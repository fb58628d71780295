// Typed, user-facing errors. Each carries a stable string code and the CLI's exit code:
// 1 step/check failed, 2 usage/config/validation, 3 target missed,
// 4 confirmation declined or impossible, 130 interrupted. Only src/cli turns them into exits.

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  targetMissed: 3,
  declined: 4,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Base class: a failure whose message is fit to print as one line. Every error class takes
 * (code, message, options) in that order; classes with a fixed code take (message, options).
 */
export class DrctlError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  /** False when trying again cannot help (bad input, bad credentials, corrupt data). */
  retryable = true;
  constructor(code: string, message: string, exitCode: ExitCodeValue, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Bad flag, value, config or file: exit 2. */
export class UsageError extends DrctlError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, ExitCode.usage, options);
    this.retryable = false;
  }
}

/** One located problem in a runbook or config file. */
export interface Problem {
  file: string;
  line: number;
  col: number;
  message: string;
  path?: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col} ${p.message}`;
}

/** Every problem found in a runbook at once: exit 2. */
export class ValidationError extends DrctlError {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super('runbook.invalid', problems.map(formatProblem).join('\n'), ExitCode.usage);
    this.problems = problems;
  }
}

/** An external operation failed (database unreachable, checksum mismatch...): exit 1. */
export class OperationError extends DrctlError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, ExitCode.failed, options);
  }
}

/** An integrity check failed: the data cannot be trusted. Exit 1. */
export class IntegrityError extends OperationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('integrity', message, options);
    this.retryable = false;
  }
}

/** The operator said no, or no TTY and no --yes: exit 4. */
export class ConfirmationError extends DrctlError {
  constructor(code: string, message: string) {
    super(code, message, ExitCode.declined);
  }
}

/** A runbook expression that cannot be parsed or evaluated (found by validate, or while rendering). */
export class ExpressionError extends DrctlError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('runbook.expression', message, ExitCode.failed, options);
  }
}

/** A shell command template whose interpolation cannot be quoted safely. */
export class ShellTemplateError extends DrctlError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('runbook.shellTemplate', message, ExitCode.failed, options);
  }
}

/** A ${...} reference that does not resolve while the runbook runs: the step fails. */
export class TemplateError extends DrctlError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('template.unresolved', message, ExitCode.failed, options);
  }
}

/** SIGINT/SIGTERM: exit 130. */
export class InterruptedError extends DrctlError {
  constructor(message = 'interrupted') {
    super('interrupted', message, ExitCode.interrupted);
  }
}

/** The error's message without a stack, for one-line output. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return missingModuleMessage(err) ?? (err.message || err.name);
  return String(err);
}

/**
 * The line for a module drctl loads on demand that is not there. Commands load their code
 * (bundle chunks with hashed names) and packages only when they need them, so an upgrade or
 * removal of drctl while a long command runs (npm replaces the whole package directory) shows
 * up here, in the middle of a step: say so, instead of an internal error.
 */
export function missingModuleMessage(err: Error): string | undefined {
  const code = (err as Error & { code?: unknown }).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const what = /Cannot find (?:module|package) '([^']+)'/.exec(err.message)?.[1] ?? 'a module';
  return `drctl's installation is missing ${what}, which this command loads when it needs it: drctl was upgraded or removed while the command ran, or the installation is incomplete. Run the command again; reinstall drctl if this repeats`;
}
