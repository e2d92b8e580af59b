// Entry point of the single executable dist/dovetail (scripts/package.mjs):
// runs the main bundle, the executable's asset dovetail.js, through
// src/cli/bundle-loader.ts with the V8 code cache made at package time, and
// calls its main(). A bundle that cannot load defers the mail (75), as
// bin/dovetail does, rather than bounce it with Node's exit 1. Everything
// runs at start, as under bin/dovetail: the executable carries code caches,
// not a start-up snapshot (docs/decisions.md says why), so signal handlers
// are installed and the lock addon is loaded at run time.

import { runScript } from './bundle-loader.js';
import type { main } from './main.js';

let dovetail: { main: typeof main };
try {
  dovetail = runScript('dovetail.js', require) as typeof dovetail;
} catch (error) {
  process.stderr.write(`Cannot load Dovetail: ${String((error as Error).message).split('\n')[0]}\n`);
  process.exit(75);
}
dovetail.main();
