// Bundles src/cli/main.ts into dist/dovetail.js, the file bin/dovetail loads.
// One bundle keeps start-up to a single file read; libraries that only some
// deliveries need (libmime) stay outside and are required lazily. The native
// addon (kernel locks, setresgid), built by node-gyp during `npm ci`, is
// copied beside the bundle; without it the build fails and says how to make it.
import { build } from 'esbuild';
import { copyFileSync, existsSync } from 'node:fs';

const ADDON = 'build/Release/dovetail_native.node';

if (!existsSync(ADDON)) {
  console.error(`${ADDON} is missing: build the native addon with \`npm run install\` (node-gyp rebuild), then build again.`);
  process.exit(1);
}

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/dovetail.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['libmime'],
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(ADDON, 'dist/dovetail_native.node');
