// Telling what a server drctl started wrote about itself from what its clients caused. While a
// restored server replays, applications and poolers keep knocking on its port: each refused
// connection ("the database system is starting up", a wrong password) is a FATAL line written
// by that client's own backend, and says nothing about the recovery. Only the postmaster and
// the startup process speak for the server, and each line names its writer by pid.

/** The log files drctl has its servers write inside their data directory. */
export const RECOVERY_LOG = 'drctl-recovery.log';
export const STANDBY_LOG = 'drctl-standby.log';

/**
 * PostgreSQL's default prefix, forced for a start by drctl (-c): the source's own may carry no
 * pid, and without it a client's FATAL cannot be told from the server's.
 */
export const LOG_LINE_PREFIX = '%m [%p] ';

/** Server options for a start whose log drctl reads: the prefix above, on stderr, no collector. */
export const WATCHED_LOG_OPTIONS = `-c logging_collector=off -c log_line_prefix='${LOG_LINE_PREFIX}'`;

export interface LogLine {
  pid: number;
  level: string;
  message: string;
}

// The prefix as %m writes it (a time zone abbreviation never holds a space). Continuation lines
// of a multi-line message or statement carry no prefix and are not lines of their own.
const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[(\d+)\] ([A-Z]+\d?):\s+(.*)$/;

export function parseLog(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of text.split('\n')) {
    const m = LINE.exec(raw);
    if (m) out.push({ pid: Number(m[1]), level: m[2]!, message: m[3]! });
  }
  return out;
}

/**
 * The startup process's first words: how the cluster was left. Nothing else can write them
 * first: no client gets a session (to RAISE LOG anything) before the startup process has
 * reached a consistent state, long after this line.
 */
const STARTUP_FIRST = /^(?:database system (?:was |shutdown was interrupted)|starting (?:point-in-time|archive) recovery)/;

/**
 * The lines of the postmaster and of the startup process, in order. The log must be the one
 * this start created: its first line is then the postmaster's (no other process exists yet).
 */
export function serverLines(lines: LogLine[]): LogLine[] {
  const postmaster = lines[0]?.pid;
  let startup: number | undefined;
  const out: LogLine[] = [];
  for (const l of lines) {
    if (l.pid === postmaster) {
      // After any child crashed, the postmaster restarts recovery in a new startup process.
      if (/^all server processes terminated; reinitializing/.test(l.message)) startup = undefined;
      out.push(l);
    } else if (l.pid === startup) {
      out.push(l);
    } else if (startup === undefined && l.level === 'LOG' && STARTUP_FIRST.test(l.message)) {
      startup = l.pid;
      out.push(l);
    }
  }
  return out;
}

/** The first FATAL or PANIC a process wrote, for when the postmaster reports its exit. */
export function fatalOf(lines: LogLine[], pid: number): string | undefined {
  return lines.find((l) => l.pid === pid && (l.level === 'FATAL' || l.level === 'PANIC'))?.message;
}
