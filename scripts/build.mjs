// Bundles src/cli/main.ts into dist/dovetail.js, the file bin/dovetail loads,
// and the code that only some runs need into chunks beside it:
// dist/dovetail-sieve.js (Sieve: deliveries of users who have it, sievec,
// sieve-test), dist/dovetail-quota.js (quota, --check, quota get|recalc),
// dist/dovetail-sql.js and dist/dovetail-lmtp.js. Every delivery is a
// process start that compiles what it loads, so a delivery without Sieve must
// not carry Sieve's code; libmime and the MySQL client library (mysql2) stay
// outside too, required lazily (src/log/deliver-log.ts,
// src/userdb/sql/load-library.ts).
//
// How, in three esbuild passes (buildBundles below, used by
// scripts/package.mjs too):
//  1. the main bundle, each `import()` of a chunk's entry replaced by a stub
//     that asks src/cli/bundle-loader.ts for the chunk: the src files that
//     remain are the main bundle's modules (M);
//  2. each chunk, with every module of M left out as an external
//     `dovetail-shared:src/...` (the ones it uses: U), so no module is ever in
//     both (instanceof MailboxError or DeliveryFailure holds across them);
//  3. the main bundle again, with the registry of U that the stubs hand to
//     the loader (initialised only when a chunk loads).
// A chunk is CommonJS wrapped as a function expression (the loader compiles
// it with node:vm), and so is the main bundle of the single executable
// (`script: true`); every output is ASCII, which the loader relies on. The
// build fails if a module lands in two outputs, if a chunk's entry is
// imported statically (it would then sit in the main bundle), or if an
// output is not ASCII. The native addon (kernel locks, setresgid), built by
// node-gyp during `npm ci`, is copied beside the bundle; without it the
// build fails and says how to make it.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADDON = 'build/Release/dovetail_native.node';
const LOADER = 'src/cli/bundle-loader.ts';
/** How a chunk names a module of the main bundle; src/cli/bundle-loader.ts resolves it. */
const SHARED_PREFIX = 'dovetail-shared:';
const REGISTRY = 'dovetail-build:shared-modules';

/** Each chunk: its name (file dovetail-NAME.js) and the modules that start it, only ever reached by import(). */
export const CHUNKS = [
  { name: 'sieve', entries: ['src/deliver/sieve-delivery.ts', 'src/cli/sieve-tools.ts', 'src/quota/rejection.ts'] },
  { name: 'sql', entries: ['src/userdb/sql.ts'] },
  { name: 'lmtp', entries: ['src/cli/lmtp.ts', 'src/lmtp/worker.ts'] },
  // quota enforcement, and the tools that report on it too (--check, quota get|recalc)
  { name: 'quota', entries: ['src/quota/enforce.ts', 'src/cli/quota-tools.ts', 'src/cli/check.ts'] },
];

/** What bin/dovetail loads, and the Node line it runs on. */
const MAIN = { entry: 'src/cli/main.ts', outfile: 'dist/dovetail.js', target: 'node20' };

/** Whether outputs are minified (measured in docs/performance.md; messages never depend on names). */
const MINIFY = true;

/** The file of a chunk: beside the main bundle, the name the loader asks for. */
const chunkFile = (name) => `dovetail-${name}.js`;

/** What src/cli/bundle-loader.ts compiles: one function expression, with Node's CommonJS parameters. */
export const AS_SCRIPT = {
  banner: { js: '(function (exports, require, module, __filename, __dirname) {' },
  footer: { js: '})' },
};

const common = {
  bundle: true,
  charset: 'ascii',
  platform: 'node',
  format: 'cjs',
  external: ['libmime', 'mysql2'],
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: ROOT,
  metafile: true,
};

/** src files (paths relative to the checkout) that went into one esbuild output. */
function sourcesOf(metafile) {
  const [output] = Object.values(metafile.outputs);
  return new Set(Object.keys(output.inputs).filter((input) => input.startsWith('src/')));
}

/**
 * The main bundle: `import()` of a chunk's entry becomes a stub that loads the
 * chunk; the registry exports the modules in `shared` (ids relative to ROOT).
 */
async function buildMain({ entry, outfile, target, minify, script }, shared) {
  const entries = new Map(CHUNKS.flatMap((chunk) => chunk.entries.map((path) => [path, chunk.name])));
  const stubs = {
    name: 'dovetail-chunk-stubs',
    setup(esbuild) {
      esbuild.onResolve({ filter: /^\./ }, async (args) => {
        if (args.pluginData === 'resolving') return undefined;
        const id = await sourceId(esbuild, args);
        if (!entries.has(id)) return undefined;
        if (args.kind !== 'dynamic-import') {
          return { errors: [{ text: `${id} starts the ${entries.get(id)} chunk: import it only with import(), or it lands in the main bundle` }] };
        }
        return { path: id, namespace: 'dovetail-chunk-stub' };
      });
      esbuild.onLoad({ filter: /.*/, namespace: 'dovetail-chunk-stub' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(`./${LOADER}`)}).loadChunk(${JSON.stringify(entries.get(args.path))}, require(${JSON.stringify(REGISTRY)}).modules).modules[${JSON.stringify(args.path)}];\n`,
        loader: 'js',
        resolveDir: ROOT,
      }));
      esbuild.onResolve({ filter: new RegExp(`^${REGISTRY}$`) }, () => ({ path: REGISTRY, namespace: 'dovetail-registry' }));
      esbuild.onLoad({ filter: /.*/, namespace: 'dovetail-registry' }, () => ({ contents: moduleTable(shared), loader: 'js', resolveDir: ROOT }));
    },
  };
  const result = await build({ ...common, ...(script ? AS_SCRIPT : {}), entryPoints: [entry], outfile, target, minify, plugins: [stubs], write: false });
  return { sources: sourcesOf(result.metafile), files: result.outputFiles, metafile: result.metafile };
}

/** The path relative to ROOT that a relative import resolves to; undefined if it does not (esbuild then says why). */
async function sourceId(esbuild, args) {
  const resolved = await esbuild.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving' });
  return resolved.errors.length === 0 ? relative(ROOT, resolved.path) : undefined;
}

/** `export const modules = { 'src/x.ts': <namespace of src/x.ts>, ... }` */
function moduleTable(ids) {
  const names = [...ids].sort();
  return [
    ...names.map((id, index) => `import * as m${index} from ${JSON.stringify(`./${id}`)};`),
    `export const modules = {${names.map((id, index) => `\n  ${JSON.stringify(id)}: m${index},`).join('')}\n};`,
    '',
  ].join('\n');
}

/** One chunk, every module of the main bundle (mainSources) left out as a shared id. */
async function buildChunk(chunk, mainSources, { outfile, target, minify }) {
  const used = new Set();
  const shareMain = {
    name: 'dovetail-share-main',
    setup(esbuild) {
      esbuild.onResolve({ filter: /^dovetail-build:chunk$/ }, () => ({ path: chunk.name, namespace: 'dovetail-chunk-entry' }));
      esbuild.onLoad({ filter: /.*/, namespace: 'dovetail-chunk-entry' }, () => ({ contents: moduleTable(chunk.entries), loader: 'js', resolveDir: ROOT }));
      esbuild.onResolve({ filter: /^\./ }, async (args) => {
        if (args.pluginData === 'resolving') return undefined;
        const id = await sourceId(esbuild, args);
        if (!mainSources.has(id)) return undefined;
        used.add(id);
        return { path: `${SHARED_PREFIX}${id}`, external: true };
      });
    },
  };
  const result = await build({
    ...common,
    entryPoints: ['dovetail-build:chunk'],
    outfile: join(dirname(outfile), chunkFile(chunk.name)),
    target,
    minify,
    plugins: [shareMain],
    ...AS_SCRIPT,
    write: false,
  });
  return { name: chunk.name, sources: sourcesOf(result.metafile), used, files: result.outputFiles, metafile: result.metafile };
}

/**
 * Writes the main bundle to `outfile` (with `script`, as a function
 * expression for src/cli/bundle-loader.ts) and each chunk beside it. Returns
 * the paths and the src files of each output. Throws if a chunk's entry is
 * imported statically, if a module is in two outputs or if an output is not
 * ASCII.
 */
export async function buildBundles({ entry, outfile, target, minify = MINIFY, script = false }) {
  const options = { entry, outfile: resolve(ROOT, outfile), target, minify, script };
  const first = await buildMain(options, []);
  const chunks = [];
  for (const chunk of CHUNKS) chunks.push(await buildChunk(chunk, first.sources, options));
  const main = await buildMain(options, new Set(chunks.flatMap((chunk) => [...chunk.used])));
  const seen = new Map([...main.sources].map((source) => [source, 'the main bundle']));
  if ([...first.sources].some((source) => !main.sources.has(source)) || main.sources.size !== first.sources.size) {
    throw new Error('The main bundle changed between its two passes');
  }
  for (const chunk of chunks) {
    for (const source of chunk.sources) {
      if (seen.has(source)) throw new Error(`${source} is in both ${seen.get(source)} and the ${chunk.name} chunk`);
      seen.set(source, `the ${chunk.name} chunk`);
    }
  }
  const files = [...main.files, ...chunks.flatMap((chunk) => chunk.files)];
  for (const file of files) {
    // the single executable runs every output through node:vm (src/cli/bundle-loader.ts), where import() has no loader
    const dynamicImport = /\bimport\(\s*["'`][^"'`]*["'`]\s*\)/.exec(Buffer.from(file.contents).toString('latin1'));
    if (dynamicImport) throw new Error(`${file.path} keeps ${dynamicImport[0]}: inside dist/dovetail it would fail ("A dynamic import callback was not specified"); use process.getBuiltinModule() for a built-in module`);
    const offset = file.contents.findIndex((byte) => byte > 0x7f);
    if (offset >= 0) throw new Error(`${file.path} is not ASCII at byte ${offset}: ${Buffer.from(file.contents.subarray(Math.max(0, offset - 60), offset + 20)).toString()}`);
  }
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.contents);
  }
  return {
    main: { path: options.outfile, sources: main.sources, metafile: main.metafile },
    chunks: chunks.map((chunk) => ({ name: chunk.name, path: join(dirname(options.outfile), chunkFile(chunk.name)), sources: chunk.sources, metafile: chunk.metafile })),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!existsSync(join(ROOT, ADDON))) {
    console.error(`${ADDON} is missing: build the native addon with \`npm run install\` (node-gyp rebuild), then build again.`);
    process.exit(1);
  }
  await buildBundles(MAIN);
  copyFileSync(join(ROOT, ADDON), join(ROOT, 'dist/dovetail_native.node'));
}
