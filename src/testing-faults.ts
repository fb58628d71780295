// Crash points for the crash-safety tests: DRCTL_FAULT=<name> makes drctl kill itself with
// SIGKILL at that point, as a power cut would. Unset in production, where this is a no-op.
export function crashPoint(name: string): void {
  if (process.env.DRCTL_FAULT === name) process.kill(process.pid, 'SIGKILL');
}
