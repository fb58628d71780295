import { Command, CommanderError, Option } from 'commander';
import { registerBackup } from './commands/backup.js';
import { registerBackups } from './commands/backups.js';
import { registerHistory } from './commands/history.js';
import { registerRestore } from './commands/restore.js';
import { registerVerify } from './commands/verify.js';
import { registerHealth } from './commands/health.js';
import { registerDrill } from './commands/drill.js';
import { registerRollback } from './commands/rollback.js';
import { registerRedis } from './commands/redis.js';
import { registerWal } from './commands/wal.js';
import { registerPlan } from './commands/plan.js';
import { registerRun } from './commands/run.js';
import { registerSchema } from './commands/schema.js';
import { registerValidate } from './commands/validate.js';
import { actionFactory, collect } from './program.js';
import { drctlVersion } from '../version.js';

// The drctl program: global options, one registration per command, and the only place that
// turns errors into one line and an exit code.


export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('drctl')
    .description('Disaster-recovery runbooks: validate, run, time against RTO/RPO, report.')
    .version(drctlVersion(), '--version')
    .option('--config <file>', 'config file (default ./drctl.yaml if present)')
    .option('--env-file <file>', 'environment file (default ./.env if present; the real environment wins)')
    .option('--runbooks <dir>', 'where runbook names are looked up (default ./runbooks, then the shipped ones)')
    .addOption(new Option('--log-format <format>', 'pretty or json (default: pretty on a TTY, json otherwise)'))
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .option('--report <file>', 'write a report; format from extension: .json, .md, .xml (JUnit) (repeatable)', collect, [])
    .option('--dry-run', 'show what would be done and touch nothing')
    .option('-y, --yes', 'answer yes to confirmations (needed without a TTY)')
    .option('--no-color', 'no colours (also NO_COLOR)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
  const act = actionFactory(setExit);
  registerRun(program, act);
  registerValidate(program, act);
  registerPlan(program, act);
  registerSchema(program, act);
  registerHistory(program, act);
  registerBackup(program, act);
  registerRestore(program, act);
  registerBackups(program, act);
  registerWal(program, act);
  registerVerify(program, act);
  registerRedis(program, act);
  registerHealth(program, act);
  registerDrill(program, act);
  registerRollback(program, act);
  const override = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  program.commands.forEach(override);
  return program;
}

/** Runs the CLI; resolves to the exit code (the caller exits). */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed its one-line message (or the help) already.
      return err.exitCode === 0 ? 0 : 2;
    }
    const { reportError } = await import('./report-error.js');
    return reportError(err);
  }
}
