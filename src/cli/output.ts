// Where a command's words go. Results (a backup id, a table) go to stdout, remarks to stderr;
// --quiet silences both, so a cron job that succeeds prints nothing, and --json keeps stdout
// for the one JSON document, sending the human text to stderr.

let quiet = false;

/** Called once, when the global options are read. */
export function setQuiet(on: boolean): void {
  quiet = on;
}

export function isQuiet(): boolean {
  return quiet;
}

/** A remark on stderr (which runbook runs, what a relative time resolved to); none under --quiet. */
export function note(line: string): void {
  if (!quiet) process.stderr.write(`${line}\n`);
}

/** A command's result on stdout; none under --quiet. */
export function result(text: string): void {
  if (!quiet) process.stdout.write(text);
}

let jsonPrinted = false;

/** A command's --json document on stdout: asked for by name, so printed under --quiet too. */
export function jsonResult(doc: unknown): void {
  jsonPrinted = true;
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

/** Whether this command has printed its --json document (a failure after it prints no second). */
export function jsonWasPrinted(): boolean {
  return jsonPrinted;
}
