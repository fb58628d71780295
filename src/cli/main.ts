import { Command, CommanderError, Option } from 'commander';
import { actionFactory, collect, type Action } from './program.js';
import { drctlVersion } from '../version.js';
import { walFetchFailureCode } from './wal-fetch-exit.js';

// The drctl program: global options, one registration per command, and the only place that
// turns errors into one line and an exit code. Only the command being run is loaded: the others
// are listed from the table below, so `drctl --help` loads one module, not seventeen.

type Register = (program: Command, act: Action) => void;

interface CommandEntry {
  names: string[];
  /** `name <args>` and the one line shown in `drctl --help`, for each name. */
  listing: [string, string][];
  load: () => Promise<Register>;
  /** Left out of `drctl --help` (used by the completion scripts). */
  hidden?: boolean;
}

const COMMANDS: CommandEntry[] = [
  { names: ['run'], listing: [['run <runbook>', 'run a runbook (a path, or a name in the runbooks dir)']], load: async () => (await import('./commands/run.js')).registerRun },
  { names: ['validate'], listing: [['validate <runbook...>', 'check runbooks: schema, actions, references; every error as file:line:col']], load: async () => (await import('./commands/validate.js')).registerValidate },
  { names: ['plan'], listing: [['plan <runbook>', 'show what a runbook would do, with timeouts, budgets and targets; touches nothing']], load: async () => (await import('./commands/plan.js')).registerPlan },
  { names: ['schema'], listing: [['schema', 'print the runbook JSON Schema (for editors: yaml-language-server)']], load: async () => (await import('./commands/schema.js')).registerSchema },
  { names: ['history'], listing: [['history', 'list earlier runs and drills with their times and RTO verdicts, or verification results']], load: async () => (await import('./commands/history.js')).registerHistory },
  { names: ['backup'], listing: [['backup', 'back up PostgreSQL into the repository; prints the new backup id']], load: async () => (await import('./commands/backup.js')).registerBackup },
  { names: ['restore'], listing: [['restore', 'restore a backup into a database, or to a point in time into a data directory, verifying every checksum']], load: async () => (await import('./commands/restore.js')).registerRestore },
  { names: ['repo'], listing: [['repo', 'the repository itself: init, info, key change, unlock']], load: async () => (await import('./commands/repo.js')).registerRepo },
  { names: ['backups'], listing: [['backups', 'list, show and expire backups in the repository']], load: async () => (await import('./commands/backups.js')).registerBackups },
  {
    names: ['wal-push', 'wal-fetch'],
    listing: [
      ['wal-push <path>', "archive one WAL file into the repository (archive_command = 'drctl wal-push %p')"],
      ['wal-fetch <name> <dest>', "restore one WAL file from the repository (restore_command = 'drctl wal-fetch %f %p')"],
    ],
    load: async () => (await import('./commands/wal.js')).registerWal,
  },
  { names: ['verify-backups'], listing: [['verify-backups', 'prove the backups restorable: age, size, checksums, WAL continuity, drift, optional test restore; exit 1 on any failure']], load: async () => (await import('./commands/verify.js')).registerVerify },
  { names: ['redis'], listing: [['redis', 'Redis RDB snapshots into and out of the repository']], load: async () => (await import('./commands/redis.js')).registerRedis },
  { names: ['health'], listing: [['health [runbook]', 'check PostgreSQL, Redis, HTTP endpoints, Twilio, Vapi and backup age in parallel; one table; exit 1 on any failure']], load: async () => (await import('./commands/health.js')).registerHealth },
  { names: ['drill'], listing: [['drill <runbook>', 'run a runbook as a DR drill: measure RTO/RPO against its targets, record it, compare with earlier drills; exit 3 on a miss']], load: async () => (await import('./commands/drill.js')).registerDrill },
  { names: ['config'], listing: [['config', 'show the settings in effect and where each came from (config file, environment, flag, default); secrets hidden']], load: async () => (await import('./commands/config.js')).registerConfig },
  { names: ['completion'], listing: [['completion <shell>', 'print a completion script for bash, zsh or fish']], load: async () => (await import('./commands/completion.js')).registerCompletion },
  { names: ['__complete'], listing: [['__complete <what>', 'candidates for the completion scripts']], load: async () => (await import('./commands/completion.js')).registerComplete, hidden: true },
  { names: ['rollback'], listing: [['rollback', 'deploy an earlier version, gate on health checks, revert automatically if the gate fails']], load: async () => (await import('./commands/rollback.js')).registerRollback },
  { names: ['s3'], listing: [['s3', 'versioned S3 buckets: bring a prefix back to a point in time']], load: async () => (await import('./commands/s3.js')).registerS3 },
];

const VALUE_OPTIONS = new Set(['--config', '--env-file', '--runbooks', '--log-format', '--log-level', '--report']);

/** The command argv asks for (also for `help <command>`), skipping global options and their values. */
export function requestedCommand(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith('-') && a !== 'help') return a;
  }
  return undefined;
}


/** The program with the command argv asks for loaded; `loadAll` loads every command (completion needs their flags). */
export async function buildProgram(setExit: (code: number) => void, args: string[] = [], o: { loadAll?: boolean } = {}): Promise<Command> {
  const program = new Command('drctl')
    .description('Disaster-recovery runbooks: validate, run, time against RTO/RPO, report.')
    .version(drctlVersion(), '--version')
    .option('--config <file>', 'config file (default: DRCTL_CONFIG, ./drctl.yaml, ~/.config/drctl/config.yaml, /etc/drctl/drctl.yaml; see drctl config)')
    .option('--env-file <file>', 'environment file (default ./.env if present; the real environment wins)')
    .option('--runbooks <dir>', 'where runbook names are looked up (default ./runbooks, then the shipped ones)')
    .addOption(new Option('--log-format <format>', 'pretty or json (default: pretty on a TTY, json otherwise)'))
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .option('--report <file>', 'write a report; format from extension: .json, .md, .xml (JUnit), .html (repeatable)', collect, [])
    .option('--dry-run', 'show what would be done and touch nothing')
    .option('-y, --yes', 'answer yes to confirmations (needed without a TTY)')
    .option('-q, --quiet', 'print nothing on success, only the failures on failure (cron)')
    .option('--no-color', 'no colours (also NO_COLOR; FORCE_COLOR forces them, TERM=dumb turns them off)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
  const act = actionFactory(setExit);
  const wanted = requestedCommand(args);
  for (const entry of COMMANDS) {
    if (o.loadAll || (wanted !== undefined && entry.names.includes(wanted))) {
      (await entry.load())(program, act);
      // The one-line descriptions live in the table above, for the listing and the command alike.
      for (const [usage, summary] of entry.listing) program.commands.find((c) => c.name() === usage.split(' ')[0])?.description(summary);
    } else for (const [usage, summary] of entry.listing) program.command(usage, { hidden: entry.hidden }).description(summary);
  }
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
  try {
    // Inside the try: loading the command's code can fail too (drctl upgraded while it ran).
    const program = await buildProgram((c) => (code = c), argv.slice(2));
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    // restore_command must not report a failure as "not archived" (wal-fetch-exit.ts).
    const failed = (c: number) => (c !== 0 && requestedCommand(argv.slice(2)) === 'wal-fetch' ? walFetchFailureCode() : c);
    if (err instanceof CommanderError) {
      // commander has printed its one-line message (or the help) already; a script that asked
      // for --json still reads one document on stdout.
      if (err.exitCode !== 0 && argv.slice(2).includes('--json')) {
        const [{ jsonResult }, { secrets }] = await Promise.all([import('./output.js'), import('../redact.js')]);
        jsonResult({ ok: false, exitCode: 2, failures: [{ reason: secrets.redact(err.message.replace(/^error: /, '')) }] });
      }
      return failed(err.exitCode === 0 ? 0 : 2);
    }
    const { reportError } = await import('./report-error.js');
    return failed(await reportError(err));
  }
}
