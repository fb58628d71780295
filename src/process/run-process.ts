import { PassThrough, Writable } from 'node:stream';

// The one wrapper for child processes (pg_dump, pg_restore, pg_basebackup, sh...): execa,
// loaded lazily; its own process group so a timeout stops grandchildren too; SIGTERM then
// SIGKILL; stderr kept for the error message. spawnProcess streams; runProcess collects.

export interface ProcessOptions {
  signal: AbortSignal;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Called with each line of stdout and stderr as it arrives. */
  onLine?: (line: string) => void;
  /** Milliseconds between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** Keep at most this many bytes of stdout. */
  maxBuffer?: number;
  /** See spawnProcess. */
  exitGraceMs?: number;
}

export interface ProcessResult {
  exitCode: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and returns its result; never rejects on a non-zero exit. */
export async function runProcess(file: string, args: string[], opts: ProcessOptions): Promise<ProcessResult> {
  const child = await spawnProcess(file, args, { signal: opts.signal, env: opts.env, cwd: opts.cwd, onStderrLine: opts.onLine, killGraceMs: opts.killGraceMs, exitGraceMs: opts.exitGraceMs });
  const max = opts.maxBuffer ?? 16 * 1024 * 1024;
  const chunks: Buffer[] = [];
  let size = 0;
  const onLine = opts.onLine ? lineSplitter(opts.onLine) : undefined;
  child.stdout.on('data', (c: Buffer) => {
    if (size < max) {
      chunks.push(c);
      size += c.length;
    }
    onLine?.(c);
  });
  child.stdout.resume();
  const r = await child.done;
  return { ...r, stdout: Buffer.concat(chunks).toString('utf8').slice(0, max).replace(/\r?\n$/, '') };
}

/** Kills the process group of `pid` when `signal` aborts; returns a function that disarms it. */
export function killGroupOnAbort(pid: number | undefined, signal: AbortSignal, graceMs = 3000): () => void {
  if (pid === undefined) return () => {};
  let timer: NodeJS.Timeout | undefined;
  const kill = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // group already gone
    }
  };
  const onAbort = () => {
    kill('SIGTERM');
    timer = setTimeout(() => kill('SIGKILL'), graceMs);
    timer.unref();
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => {
    signal.removeEventListener('abort', onAbort);
    // The leader exited; make sure nothing it started lingers once we are done with it.
    if (signal.aborted) kill('SIGKILL');
    if (timer) clearTimeout(timer);
  };
}

export interface Spawned {
  /** The child's stdout, to be consumed by the caller. */
  stdout: NodeJS.ReadableStream;
  /** The child's stdin, when `stdin: 'pipe'`. */
  stdin?: NodeJS.WritableStream;
  /** Resolves when the child exits; stderr is kept for error messages. */
  done: Promise<ProcessResult>;
  kill(): void;
}

/** Starts a command whose stdout (or stdin) is a stream the caller connects. */
export async function spawnProcess(
  file: string,
  args: string[],
  opts: {
    signal: AbortSignal;
    env?: Record<string, string | undefined>;
    cwd?: string;
    stdin?: 'pipe' | 'ignore';
    /**
     * A stream with a file descriptor (another child's stdin), or a file descriptor (a FIFO's
     * write end), gets the output directly.
     */
    stdout?: 'pipe' | 'ignore' | NodeJS.WritableStream | number;
    onStderrLine?: (l: string) => void;
    killGraceMs?: number;
    /**
     * Once the process itself has exited, wait this long for its output to end, then stop
     * reading: a command that leaves a process in the background holding stdout (`daemon &`,
     * `pg_ctl start` without -l) is done when it exits, not when that process does.
     */
    exitGraceMs?: number;
  },
): Promise<Spawned> {
  const { execa } = await import('execa');
  opts.signal.throwIfAborted();
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    detached: true,
    reject: false,
    stdin: opts.stdin ?? 'ignore',
    // execa passes a stream with a file descriptor to the child as is (its types only name
    // process.stdout-like streams for that).
    stdout: (opts.stdout ?? 'pipe') as 'pipe',
    encoding: 'buffer',
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 4 * 1024 * 1024 },
  });
  // Node resumes, and so drops, a child's stdout that nobody reads when the child exits (and
  // execa does the same one tick after spawn with buffer: false). Callers often await something
  // (a codec module, a repository listing) before they pipe it, and a small pg_dump can be done
  // by then. A pipe into a PassThrough reads from the start: the output waits there, under
  // backpressure, until the caller consumes it.
  const stdout = child.stdout ? child.stdout.pipe(new PassThrough({ highWaterMark: 1024 * 1024 })) : undefined;
  if (child.stdout && stdout) {
    const raw = child.stdout;
    raw.on('error', (e) => stdout.destroy(e));
    // A consumer that gives up must still stop the child: it would block writing otherwise.
    stdout.on('close', () => {
      if (!stdout.readableEnded && !raw.destroyed) raw.destroy();
    });
  }
  if (opts.exitGraceMs !== undefined) {
    const grace = opts.exitGraceMs;
    child.once('exit', () => {
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, grace).unref();
    });
  }
  const stop = killGroupOnAbort(child.pid, opts.signal, opts.killGraceMs);
  if (opts.onStderrLine) child.stderr?.on('data', lineSplitter(opts.onStderrLine));
  const done = (async () => {
    try {
      const r = await child;
      return {
        exitCode: typeof r.exitCode === 'number' ? r.exitCode : 128,
        signal: r.signal ?? undefined,
        stdout: '',
        // With encoding 'buffer', execa hands stderr back as a Uint8Array.
        stderr: r.stderr instanceof Uint8Array ? Buffer.from(r.stderr).toString('utf8') : String(r.stderr ?? ''),
      };
    } finally {
      stop();
    }
  })();
  return {
    stdout: (stdout ?? child.stdout) as NodeJS.ReadableStream,
    stdin: child.stdin ?? undefined,
    done,
    kill: () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    },
  };
}

/** A 'data' listener that calls `onLine` for each complete, non-empty line. */
function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trimEnd();
      buf = buf.slice(nl + 1);
      if (line) onLine(line);
    }
    // A runaway line without newlines must not grow without bound.
    if (buf.length > 64 * 1024) buf = buf.slice(-4096);
  };
}

/**
 * A sink that feeds a child's stdin and keeps draining after the child stops reading. tar
 * exits at the end-of-archive marker, before the trailing padding: the source must still be
 * read to its end so its checksum is verified, and the child's exit code decides the rest.
 */
export function childStdinSink(stdin: NodeJS.WritableStream): Writable {
  let closed = false;
  const onGone = () => {
    closed = true;
  };
  stdin.on('error', onGone);
  stdin.on('close', onGone);
  return new Writable({
    write(chunk: Buffer, _e, cb) {
      if (closed) return cb();
      if (stdin.write(chunk)) return cb();
      const go = () => {
        stdin.off('drain', go);
        stdin.off('close', go);
        cb();
      };
      stdin.on('drain', go);
      stdin.on('close', go);
    },
    final(cb) {
      if (closed) return cb();
      stdin.end(() => cb());
    },
  });
}
