#!/usr/bin/env node
// drctl entry point: run the CLI, then exit with its code once output is flushed. A handle left
// open by a driver must not keep a finished command alive, hence the unref'd fallback exit.
import { main } from './cli/main.js';

const code = await main(process.argv);
process.exitCode = code;
setTimeout(() => process.exit(code), 2000).unref();
