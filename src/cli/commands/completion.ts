import { readdirSync } from 'node:fs';
import type { Command, Option } from 'commander';
import type { Action } from '../program.js';
import { UsageError } from '../../errors.js';
import { openRepository } from '../open-repository.js';
import { PACKAGE_RUNBOOKS } from '../context.js';
import { parseDuration } from '../../time/duration.js';

// drctl completion bash|zsh|fish: a completion script generated from the command table itself
// (every command, subcommand and flag), with the shipped runbook names built in. Backup ids
// come from the repository at completion time through the hidden `drctl __complete backups`,
// which prints nothing rather than an error: a shell prompt is no place for one.

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

/** Flags whose value is a backup id, a file, or one of a few words. */
const BACKUP_FLAGS = ['--backup'];
const FILE_FLAGS = ['--config', '--env-file', '--runbooks', '--runbook', '--report', '--target-dir', '--metrics-file'];
const CHOICES: Record<string, string[]> = {
  '--log-format': ['pretty', 'json'],
  '--log-level': ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
  '--type': ['logical', 'base'],
  '--compress': ['zstd', 'gzip', 'none'],
};

interface Spec {
  name: string;
  description: string;
  flags: string[];
  /** Flags that take a value (their next word is not a command or an argument). */
  valueFlags: string[];
  subcommands: Spec[];
  /** What the positional argument is. */
  arg?: 'runbook' | 'backup' | 'file' | 'shell';
}

export function registerCompletion(program: Command, act: Action): void {
  program
    .command('completion')
    .argument('<shell>', 'bash, zsh or fish')
    .addHelpText('after', '\nbash: source <(drctl completion bash)   zsh: source <(drctl completion zsh)   fish: drctl completion fish | source')
    .action(
      act(async (_ctx, _o: object, shell: string) => {
        if (!(SHELLS as readonly string[]).includes(shell)) {
          throw new UsageError('usage.shell', `completion ${shell}: use bash, zsh or fish`);
        }
        const { buildProgram } = await import('../main.js');
        const full = await buildProgram(() => {}, [], { loadAll: true });
        const runbooks = readdirSync(PACKAGE_RUNBOOKS).filter((f) => /\.ya?ml$/.test(f)).map((f) => f.replace(/\.ya?ml$/, '')).sort();
        process.stdout.write(completionScript(shell as Shell, describe(full), runbooks));
        return 0;
      }, { context: false }),
    );
}

/** The hidden `drctl __complete backups [--repo url]` the completion scripts call. */
export function registerComplete(program: Command, act: Action): void {
  program
    .command('__complete', { hidden: true })
    .argument('<what>', 'backups')
    .option('--repo <url>', 'repository')
    .action(
      act(async (ctx, o: { repo?: string }, what: string) => {
        if (what !== 'backups') return 0;
        try {
          const list = (async () => (await (await openRepository(ctx, o.repo)).catalog()).backups.map((b) => b.id))().catch(() => [] as string[]);
          // A slow or unreachable repository must not hang the shell. An encrypted repository
          // pays its key derivation first, so a slow machine may need a longer budget.
          const budgetMs = completionBudgetMs(ctx.env.DRCTL_COMPLETE_TIMEOUT);
          const ids = await Promise.race([list, new Promise<string[]>((resolve) => setTimeout(() => resolve([]), budgetMs).unref())]);
          if (ids.length) process.stdout.write(`${[...ids].reverse().join('\n')}\n`);
        } catch {
          // Completion offers nothing rather than an error.
        }
        return 0;
      }),
    );
}

/** DRCTL_COMPLETE_TIMEOUT (a duration, default 3s); a bad value keeps the default: a shell prompt is no place for an error. */
function completionBudgetMs(value: string | undefined): number {
  if (!value) return 3000;
  try {
    return parseDuration(value, 'DRCTL_COMPLETE_TIMEOUT');
  } catch {
    return 3000;
  }
}

function describe(program: Command): Spec {
  const spec = (c: Command): Spec => {
    const opts = c.options as readonly Option[];
    const args = (c as unknown as { registeredArguments: { name(): string }[] }).registeredArguments.map((a) => a.name());
    const arg = args.includes('runbook') ? 'runbook' : args.includes('id') ? 'backup' : args.includes('path') || args.includes('dest') ? 'file' : args.includes('shell') ? 'shell' : undefined;
    return {
      name: c.name(),
      description: c.description(),
      flags: opts.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)).concat('--help'),
      valueFlags: opts.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)),
      subcommands: (c.commands as Command[]).filter((s) => !(s as unknown as { _hidden?: boolean })._hidden).map(spec),
      arg,
    };
  };
  return spec(program);
}

/** The completion script for one shell. */
export function completionScript(shell: Shell, root: Spec, runbooks: string[]): string {
  if (shell === 'fish') return fishScript(root, runbooks);
  const bash = bashScript(root, runbooks);
  if (shell === 'bash') return bash;
  // zsh runs the bash function through its own bash-completion emulation.
  return `#compdef drctl\n# drctl zsh completion: source <(drctl completion zsh), or save as _drctl in your $fpath\nautoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n${bash.split('\n').slice(1).join('\n')}`;
}

function words(list: string[]): string {
  return list.join(' ');
}

function bashScript(root: Spec, runbooks: string[]): string {
  const globalValue = root.valueFlags;
  const arms: string[] = [];
  const argArm = (s: Spec) => {
    if (s.arg === 'runbook') return `_drctl_words "$_drctl_runbooks"; COMPREPLY+=($(compgen -f -- "$cur"))`;
    if (s.arg === 'backup') return '_drctl_words "latest $(_drctl_backups)"';
    if (s.arg === 'shell') return '_drctl_words "bash zsh fish"';
    if (s.arg === 'file') return 'COMPREPLY=($(compgen -f -- "$cur"))';
    return '';
  };
  for (const c of root.subcommands) {
    if (c.subcommands.length) {
      const subArms = c.subcommands.map((s) => `        ${s.name}) opts="${words(s.flags)}"; values="${words(s.valueFlags)}"; arg='${argArm(s)}' ;;`).join('\n');
      arms.push(`    ${c.name})
      if [[ -z "$sub" ]]; then _drctl_words "${words(c.subcommands.map((s) => s.name))}"; return 0; fi
      case "$sub" in
${subArms}
      esac ;;`);
    } else {
      arms.push(`    ${c.name}) opts="${words(c.flags)}"; values="${words(c.valueFlags)}"; arg='${argArm(c)}' ;;`);
    }
  }
  const choiceArms = Object.entries(CHOICES).map(([flag, vals]) => `    ${flag}) _drctl_words "${words(vals)}"; return 0 ;;`).join('\n');
  return `# bash completion for drctl: source <(drctl completion bash), or save it in /etc/bash_completion.d/drctl
_drctl_runbooks="${words(runbooks)}"

_drctl_words() {
  local IFS=$' \\t\\n'
  COMPREPLY+=($(compgen -W "$1" -- "$cur"))
}

# Backup ids of the repository named on the line (--repo), else the configured one.
_drctl_backups() {
  local i args=()
  for ((i = 1; i < \${#COMP_WORDS[@]} - 1; i++)); do
    case "\${COMP_WORDS[i]}" in
      --repo|--config|--env-file) args+=("\${COMP_WORDS[i]}" "\${COMP_WORDS[i+1]}") ;;
    esac
  done
  "\${COMP_WORDS[0]}" __complete backups "\${args[@]}" 2>/dev/null
}

_drctl_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="" sub="" opts="" values="" arg="" w i
  COMPREPLY=()
  case "$prev" in
${choiceArms}
    ${BACKUP_FLAGS.join('|')}) _drctl_words "latest $(_drctl_backups)"; return 0 ;;
    ${FILE_FLAGS.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case " ${words(globalValue)} $values " in *" $w "*) ((i++)); continue ;; esac
    [[ "$w" == -* ]] && continue
    if [[ -z "$cmd" ]]; then
      cmd="$w"
      case "$cmd" in
${root.subcommands.filter((c) => !c.subcommands.length).map((c) => `        ${c.name}) values="${words(c.valueFlags)}" ;;`).join('\n')}
      esac
    elif [[ -z "$sub" ]]; then sub="$w"
    fi
  done
  # A flag's value is being typed: nothing to offer.
  case " ${words(globalValue)} $values " in *" $prev "*) return 0 ;; esac
  if [[ -z "$cmd" ]]; then
    if [[ "$cur" == -* ]]; then _drctl_words "${words(root.flags)}"; else _drctl_words "${words(root.subcommands.map((c) => c.name))}"; fi
    return 0
  fi
  case "$cmd" in
${arms.join('\n')}
    *) return 0 ;;
  esac
  if [[ "$cur" == -* ]]; then _drctl_words "$opts ${words(root.flags)}"; return 0; fi
  [[ -n "$arg" ]] && eval "$arg"
  return 0
}
complete -F _drctl_complete drctl
`;
}

function fishScript(root: Spec, runbooks: string[]): string {
  const out: string[] = ['# fish completion for drctl: drctl completion fish | source, or save as ~/.config/fish/completions/drctl.fish', 'complete -c drctl -f'];
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const flag = (f: string) => (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`);
  const top = root.subcommands.map((c) => c.name).join(' ');
  for (const f of root.flags) out.push(`complete -c drctl ${flag(f)}${root.valueFlags.includes(f) ? ' -r' : ''}`);
  for (const [f, vals] of Object.entries(CHOICES)) out.push(`complete -c drctl -l ${f.slice(2)} -x -a ${q(vals.join(' '))}`);
  for (const f of BACKUP_FLAGS) out.push(`complete -c drctl -l ${f.slice(2)} -x -a '(drctl __complete backups 2>/dev/null) latest'`);
  for (const f of FILE_FLAGS) out.push(`complete -c drctl -l ${f.slice(2)} -r -F`);
  for (const c of root.subcommands) {
    out.push(`complete -c drctl -n "not __fish_seen_subcommand_from ${top}" -a ${c.name} -d ${q(c.description)}`);
    const seen = `__fish_seen_subcommand_from ${c.name}`;
    const argFor = (s: Spec, cond: string) => {
      if (s.arg === 'runbook') out.push(`complete -c drctl -n "${cond}" -F -a ${q(runbooks.join(' '))}`);
      if (s.arg === 'backup') out.push(`complete -c drctl -n "${cond}" -a '(drctl __complete backups 2>/dev/null) latest'`);
      if (s.arg === 'shell') out.push(`complete -c drctl -n "${cond}" -a 'bash zsh fish'`);
      if (s.arg === 'file') out.push(`complete -c drctl -n "${cond}" -F`);
      for (const f of s.flags) if (!root.flags.includes(f)) out.push(`complete -c drctl -n "${cond}" ${flag(f)}${s.valueFlags.includes(f) ? ' -r' : ''}`);
    };
    if (c.subcommands.length) {
      const subs = c.subcommands.map((s) => s.name).join(' ');
      for (const s of c.subcommands) {
        out.push(`complete -c drctl -n "${seen}; and not __fish_seen_subcommand_from ${subs}" -a ${s.name} -d ${q(s.description)}`);
        argFor(s, `${seen}; and __fish_seen_subcommand_from ${s.name}`);
      }
    } else argFor(c, seen);
  }
  return `${out.join('\n')}\n`;
}
