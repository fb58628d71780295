import { existsSync } from 'node:fs';
import path from 'node:path';

// What restore_command's exit code tells PostgreSQL. Any code from 1 to 125 means "this file is
// not in the archive": in an archive recovery the server then ends recovery there and promotes,
// so a corrupted segment, a wrong key or an unreachable store reported as 1 would bring the
// server up short of the data, silently. Above 125 PostgreSQL stops the recovery instead
// (FATAL), and the operator sees why. A standby is the exception: it asks again and again,
// applies nothing it did not get, and streams meanwhile, where a FATAL would stop it.

/** The file is not in the archive: the end of the WAL as far as the repository knows. */
export const WAL_NOT_ARCHIVED = 1;

/**
 * Any other failure of wal-fetch (damaged object, wrong key, store unreachable, bad config).
 * Not 126 or 127: PostgreSQL would log those as "command not executable" / "not found",
 * sending the operator after the wrong problem; it logs 255 as the exit code it is.
 */
export const WAL_FETCH_FAILED = 255;

/**
 * The exit code for a wal-fetch that failed: WAL_FETCH_FAILED, or 1 where the server running
 * it is a standby (PostgreSQL runs restore_command in the data directory: standby.signal).
 */
export function walFetchFailureCode(cwd = process.cwd()): number {
  return existsSync(path.join(cwd, 'standby.signal')) ? WAL_NOT_ARCHIVED : WAL_FETCH_FAILED;
}
