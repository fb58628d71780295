import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

// The one wait-for-port helper: a server a test started is ready when its port accepts a
// connection. A server that exits first fails the wait at once, with what it said.

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Resolves once `port` accepts a TCP connection; rejects when `child` exits first or after timeoutMs. */
export async function waitForPort(port: number, o: { what: string; child?: ChildProcess; output?: () => string; host?: string; timeoutMs?: number }): Promise<void> {
  const host = o.host ?? '127.0.0.1';
  const detail = () => (o.output ? `: ${o.output().slice(-500)}` : '');
  let exited: string | undefined;
  const onExit = (code: number | null, signal: string | null) => (exited = `${o.what} exited (${signal ?? code})`);
  o.child?.once('exit', onExit);
  try {
    const deadline = Date.now() + (o.timeoutMs ?? 30_000);
    for (;;) {
      if (exited) throw new Error(`${exited}${detail()}`);
      if (await canConnect(port, host)) return;
      if (Date.now() > deadline) throw new Error(`${o.what} did not listen on ${host}:${port}${detail()}`);
      // Nothing announces that a port is listening: asking again shortly is the only way.
      await sleep(50);
    }
  } finally {
    o.child?.off('exit', onExit);
  }
}

/** Kills a child and resolves when it has exited (at once when it already has). */
export async function killAndWait(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}
