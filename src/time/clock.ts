// The clock drctl reads when the answer depends on what time it is (a backup's age against
// --max-age, the instant a verification is recorded under). Code that decides by the clock
// takes one, so tests hand it a fixed instant instead of waiting for real time to pass.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock stopped at one instant (tests, and replaying a decision). */
export function fixedClock(at: Date | number): Clock {
  const ms = typeof at === 'number' ? at : at.getTime();
  return { now: () => ms };
}
