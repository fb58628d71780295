import { InterruptedError } from '../errors.js';

// SIGINT/SIGTERM: the first stops the running step (children killed, report still written),
// the second stops finally steps too, the third exits at once.

export interface Interrupts {
  signal: AbortSignal;
  forceSignal: AbortSignal;
  dispose(): void;
}

export function trapInterrupts(): Interrupts {
  const first = new AbortController();
  const force = new AbortController();
  let count = 0;
  const on = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      process.stderr.write(`\n${sig}: stopping the running step (again to skip finally steps)\n`);
      first.abort(new InterruptedError(`interrupted by ${sig}`));
    } else if (count === 2) force.abort(new InterruptedError(`interrupted by ${sig}`));
    else process.exit(130);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    signal: first.signal,
    forceSignal: force.signal,
    dispose() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}
