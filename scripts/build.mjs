// Bundles src/cli/main.ts into dist/dovetail.js, the file bin/dovetail loads.
// One bundle keeps start-up to a single file read; libraries that only some
// deliveries need (libmime) stay outside and are required lazily.
import { build } from 'esbuild';

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
