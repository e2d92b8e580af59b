// Loads the npm client library of a database server driver (mysql2) the
// first time a lookup needs it, never when Dovetail starts: a delivery that
// names no SQL server pays nothing for it. Beside dist/dovetail.js (and under
// vitest) it is the package in node_modules, which scripts/build.mjs leaves
// out of the bundle and install.sh --bundle copies; inside the single
// executable it is the asset NAME.js, the package bundled on its own by
// scripts/package.mjs, run by src/cli/bundle-loader.ts (with the code cache
// NAME.js.cache when the executable carries one). A library that cannot be
// loaded throws an SqlError saying which, so the delivery defers (75).

import { runScript } from '../../cli/bundle-loader.js';
import { SqlError } from './types.js';

/**
 * The library `asset` stands for inside the single executable, or what
 * `fromNodeModules` returns elsewhere (a literal `require('mysql2')`, so that
 * esbuild sees which package stays external).
 */
export function loadClientLibrary<Library>(asset: string, fromNodeModules: () => unknown): Library {
  try {
    if (process.getBuiltinModule('node:sea').isSea()) {
      // the asset's own require() reaches Node's built-in modules only: it is bundled whole
      return runScript(asset, require) as Library;
    }
    return fromNodeModules() as Library;
  } catch (error) {
    throw new SqlError(`Cannot load the database client library ${asset.replace(/\.js$/, '')}: ${String((error as Error).message).split('\n')[0]}`, { cause: error });
  }
}
