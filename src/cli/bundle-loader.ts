// Loads the scripts of the build (scripts/build.mjs) that Node does not load
// itself: the chunks of code only some runs need (Sieve, --check), kept out
// of the main bundle so that a plain delivery never compiles them, and,
// inside the single executable, the main bundle itself (src/cli/sea-entry.ts).
// Each is CommonJS wrapped in a function expression, run with node:vm.
// (sea-entry.ts's bundle has its own copy of this module for runScript; the
// chunks are loaded by the main bundle's.)
//
// A chunk's imports of modules the main bundle holds arrive as
// `dovetail-shared:src/...` ids, answered from the registry the build's stub
// passes in, so each module exists once (instanceof works across the two).
// Only the build's stubs call loadChunk; under vitest the sources import each
// other directly.
//
// Beside dist/dovetail.js a script is the file of its name; inside the single
// executable it is the asset of that name, with the V8 code cache
// scripts/package.mjs made for it after sample deliveries (asset NAME.cache),
// so that the functions a delivery runs need no compiling. A script that
// cannot be read or run throws (a delivery defers with 75); a cache that is
// missing or that V8 rejects only costs the compile time it would have saved.
// NODE_DEBUG=dovetail says whether each cache was used.
// The build makes every script ASCII, so reading it as latin1 is exact.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const SHARED_PREFIX = 'dovetail-shared:';

type Require = (id: string) => unknown;
type ScriptFunction = (exports: object, require: Require, module: { exports: object }, filename: string, dirname: string) => void;

/** Each chunk's exports, by name: a chunk runs at most once per process. */
const chunks = new Map<string, object>();

/** The exports of chunk `name` (dovetail-NAME.js), run on first use with `shared` (src path → module) as the modules it shares. */
export function loadChunk(name: string, shared: Readonly<Record<string, object>>): object {
  let exports = chunks.get(name);
  if (exports === undefined) {
    const file = `dovetail-${name}.js`;
    exports = runScript(file, (id) => {
      if (!id.startsWith(SHARED_PREFIX)) return require(id); // Node's built-in modules
      const module = shared[id.slice(SHARED_PREFIX.length)];
      if (module === undefined) throw new Error(`${file} needs ${id}, which the main bundle does not share: build both together`);
      return module;
    });
    chunks.set(name, exports);
  }
  return exports;
}

/** Runs the script `file` of the build with `scriptRequire` as its require(); returns its exports. */
export function runScript(file: string, scriptRequire: Require): object {
  const sea = process.getBuiltinModule('node:sea');
  const embedded = sea.isSea();
  const filename = embedded ? file : join(__dirname, file);
  const source = embedded ? Buffer.from(sea.getRawAsset(file) as ArrayBuffer).toString('latin1') : readFileSync(filename, 'latin1');
  const cachedData = embedded ? codeCache(sea, `${file}.cache`) : undefined;
  const script = new (process.getBuiltinModule('node:vm').Script)(source, { filename, cachedData });
  if (cachedData !== undefined) {
    process.getBuiltinModule('node:util').debuglog('dovetail')(`${file}: code cache ${script.cachedDataRejected ? 'rejected' : 'used'}`);
  }
  const module = { exports: {} };
  (script.runInThisContext() as ScriptFunction).call(module.exports, module.exports, scriptRequire, module, filename, embedded ? '' : __dirname);
  return module.exports;
}

/** The code cache asset, or undefined when the executable has none. */
function codeCache(sea: typeof import('node:sea'), asset: string): Buffer | undefined {
  try {
    return Buffer.from(sea.getRawAsset(asset) as ArrayBuffer);
  } catch {
    return undefined;
  }
}
