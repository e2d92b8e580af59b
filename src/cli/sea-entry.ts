// Entry point of the single executable dist/dovetail (scripts/package.mjs):
// the bundle bin/dovetail loads only exports main(), this file calls it.
// Everything runs at start, as under bin/dovetail: the executable carries a
// V8 code cache, not a start-up snapshot (docs/decisions.md says why), so
// signal handlers are installed and the lock addon is loaded at run time.

import { main } from './main.js';

main();
