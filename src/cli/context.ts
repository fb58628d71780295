import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { loadConfigWithSource, loadEnv, stateDir, type BuiltInRunbook, type Config, type ConfigSource } from '../config.js';
import { ConfirmationError, UsageError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { colorEnabled } from '../report/colors.js';
import { checkReportPaths } from '../report/files.js';
import { progressInterval } from '../report/progress.js';
import { note, setQuiet } from './output.js';

// What every command needs from the global options: environment, config, state dir,
// runbook lookup, output settings and the confirmation policy.

export interface GlobalOptions {
  config?: string;
  envFile?: string;
  runbooks?: string;
  logFormat?: string;
  logLevel?: string;
  report?: string[];
  dryRun?: boolean;
  yes?: boolean;
  color?: boolean;
  quiet?: boolean;
}

export interface CliContext {
  env: Record<string, string | undefined>;
  config: Config;
  /** Which config file was read, and why that one (`drctl config` shows it). */
  configSource: ConfigSource;
  /** The global options as given, for commands that say where a setting came from. */
  globals: GlobalOptions;
  stateDir: string;
  runbooksDirs: string[];
  logFormat: 'pretty' | 'json';
  logLevel: string;
  reports: string[];
  dryRun: boolean;
  yes: boolean;
  color: boolean;
  /** --quiet: nothing on success, the failures on failure. */
  quiet: boolean;
  /** Off a TTY: how often a running step logs a progress line (DRCTL_PROGRESS_INTERVAL). */
  progressIntervalMs: number;
  /** Called before a prompt so live output does not overwrite it. */
  beforePrompt?: () => void;
  confirm(message: string): Promise<boolean>;
}

/** The runbooks shipped with the package. */
export const PACKAGE_RUNBOOKS = path.join(packageRoot(), 'runbooks');

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export async function createContext(g: GlobalOptions): Promise<CliContext> {
  const env = await loadEnv(g.envFile);
  const { config, source: configSource } = await loadConfigWithSource(g.config, env);
  const quiet = g.quiet ?? false;
  setQuiet(quiet);
  const logFormat = g.logFormat ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (logFormat !== 'pretty' && logFormat !== 'json') {
    throw new UsageError('usage.logFormat', `--log-format ${logFormat}: use pretty or json`);
  }
  const logLevel = g.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError('usage.logLevel', `--log-level ${logLevel}: use one of ${LOG_LEVELS.join(', ')}`);
  const reports = g.report ?? [];
  checkReportPaths(reports);
  if (g.runbooks !== undefined && !isDir(g.runbooks)) throw new UsageError('usage.runbooks', `--runbooks ${g.runbooks}: no such directory`);
  const yes = g.yes ?? false;
  const ctx: CliContext = {
    env,
    config,
    configSource,
    globals: g,
    stateDir: stateDir(config, env),
    runbooksDirs: [g.runbooks ?? path.resolve('runbooks'), PACKAGE_RUNBOOKS],
    logFormat,
    logLevel,
    reports,
    dryRun: g.dryRun ?? false,
    yes,
    color: colorEnabled(env, process.stderr, g.color ?? true),
    quiet,
    progressIntervalMs: progressInterval(env),
    async confirm(message: string): Promise<boolean> {
      if (yes) return true;
      if (!process.stdin.isTTY) {
        throw new ConfirmationError('confirm.noTty', `needs confirmation: ${message} (no TTY: pass --yes to proceed)`);
      }
      ctx.beforePrompt?.();
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await rl.question(`${message} [y/N] `);
        return /^y(es)?$/i.test(answer.trim());
      } catch (err) {
        // Ctrl-C (or Ctrl-D) at the prompt is a no, not a failure of the step: no retry, no
        // failure alert, exit 4 as for any confirmation not given.
        throw new ConfirmationError('confirm.aborted', `not confirmed (${err instanceof Error ? err.message : String(err)}): ${message}`);
      } finally {
        rl.close();
      }
    },
  };
  return ctx;
}

/** A runbook argument: a path, or a name in the runbooks dir, then the package's own. */
export function resolveRunbook(ctx: Pick<CliContext, 'runbooksDirs'>, arg: string): string {
  if (existsSync(arg) || arg.includes('/') || /\.ya?ml$/.test(arg)) return arg;
  for (const dir of ctx.runbooksDirs) {
    for (const ext of ['.yaml', '.yml']) {
      const p = path.join(dir, `${arg}${ext}`);
      if (!existsSync(p)) continue;
      // A local file of the same name as a shipped runbook wins here, so say which one runs.
      if (dir !== PACKAGE_RUNBOOKS && existsSync(path.join(PACKAGE_RUNBOOKS, `${arg}.yaml`))) {
        note(`using ${p}, not the shipped runbook ${arg}`);
      }
      return p;
    }
  }
  throw new UsageError('usage.runbook', `runbook "${arg}": no such file, and no ${arg}.yaml in ${ctx.runbooksDirs.join(' or ')}`);
}

/**
 * The runbook a built-in command (backup, restore, ...) runs: always the one shipped with
 * drctl, never a file that happens to be in the working directory. `--runbook <file>` or
 * drctl.yaml's `runbooks: { <name>: <file> }` replaces it, and that is said on stderr.
 */
export function builtInRunbook(ctx: Pick<CliContext, 'config'>, name: BuiltInRunbook, flag?: string): string {
  const chosen = flag ?? ctx.config.runbooks?.[name];
  if (chosen === undefined) return path.join(PACKAGE_RUNBOOKS, `${name}.yaml`);
  const file = path.resolve(chosen);
  if (!existsSync(file)) {
    throw new UsageError('usage.runbook', `${flag !== undefined ? '--runbook' : `drctl.yaml runbooks.${name}:`} ${chosen}: no such file`);
  }
  note(`using runbook ${file} instead of the built-in ${name}`);
  return file;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
