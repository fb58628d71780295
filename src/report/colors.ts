import { createColors } from 'picocolors';

// Colours for human output on stderr. picocolors decides from stdout and turns colour on
// whenever CI is set; drctl writes its human output to stderr, so the decision is made here,
// from stderr, and picocolors only paints.

export type Colors = ReturnType<typeof createColors>;

/**
 * Whether to colour a stream: --no-color and NO_COLOR (any non-empty value) win; FORCE_COLOR
 * (other than 0/false) turns colour on, also off a TTY (CI logs that render ANSI); TERM=dumb
 * turns it off; otherwise only a TTY gets colour.
 */
export function colorEnabled(env: Readonly<Record<string, string | undefined>>, stream: { isTTY?: boolean }, flag = true): boolean {
  if (!flag || env.NO_COLOR) return false;
  // Empty counts as unset, as everywhere in drctl: an env file copied with FORCE_COLOR= forces nothing.
  if (env.FORCE_COLOR) return !/^(0|false)$/i.test(env.FORCE_COLOR);
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** A painter: every function returns its text unchanged when colour is off. */
export function colors(enabled: boolean): Colors {
  return createColors(enabled);
}
