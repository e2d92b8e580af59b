// scripts/build.mjs: the main bundle and the chunks of code only some runs
// need, built into a temp dir. No module may be in two outputs (a class in
// both would break instanceof across them), the main bundle must hold no
// Sieve code beyond what tells whether a user has Sieve at all, every output
// must be ASCII (src/cli/bundle-loader.ts reads scripts as latin1), and a
// static import of a chunk's entry must fail the build.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface BuiltScript {
  path: string;
  sources: Set<string>;
}
interface BuildScript {
  CHUNKS: { name: string; entries: string[] }[];
  buildBundles(options: { entry: string; outfile: string; target: string; script?: boolean }): Promise<{ main: BuiltScript; chunks: (BuiltScript & { name: string })[] }>;
}

const ROOT = resolve(__dirname, '../..');
/** Sieve modules the main bundle needs: lda.ts reads the user's Sieve settings to know whether to load the chunk. */
const SIEVE_IN_MAIN = ['src/sieve/extensions.ts', 'src/sieve/settings.ts'];
const isSieveCode = (source: string) =>
  source.startsWith('src/sieve/') || /^src\/deliver\/(sieve-[^/]+|sendmail)\.ts$/.test(source) || source === 'src/cli/sieve-tools.ts';

let dir: string;
let buildScript: BuildScript;
let built: Awaited<ReturnType<BuildScript['buildBundles']>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dovetail-build-test-'));
  buildScript = (await import(pathToFileURL(join(ROOT, 'scripts/build.mjs')).href)) as BuildScript;
  built = await buildScript.buildBundles({ entry: 'src/cli/main.ts', outfile: join(dir, 'dovetail.js'), target: 'node20' });
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('scripts/build.mjs', () => {
  it('puts every src module in exactly one output', () => {
    const outputs = [built.main, ...built.chunks];
    const all = outputs.flatMap((output) => [...output.sources]);
    expect(new Set(all).size).toBe(all.length);
    expect(built.main.sources.size).toBeGreaterThan(20);
  });

  it('keeps Sieve out of the main bundle but for the settings that say whether a user has it', () => {
    expect([...built.main.sources].filter(isSieveCode).sort()).toEqual(SIEVE_IN_MAIN);
    const sieve = built.chunks.find((chunk) => chunk.name === 'sieve')!;
    expect([...sieve.sources].filter(isSieveCode).length).toBeGreaterThan(20);
    expect(sieve.sources).toContain('src/sieve/interpreter.ts');
  });

  it('puts the entries of each chunk in it, beside the main bundle, and nowhere else', () => {
    expect(built.chunks.map((chunk) => chunk.name)).toEqual(buildScript.CHUNKS.map((chunk) => chunk.name));
    for (const { name, entries } of buildScript.CHUNKS) {
      const chunk = built.chunks.find((candidate) => candidate.name === name)!;
      expect(chunk.path).toBe(join(dir, `dovetail-${name}.js`));
      for (const entry of entries) {
        expect(chunk.sources).toContain(entry);
        expect(built.main.sources).not.toContain(entry);
      }
    }
  });

  it('writes ASCII only', () => {
    for (const output of [built.main, ...built.chunks]) {
      const bytes = readFileSync(output.path);
      expect(bytes.findIndex((byte) => byte > 0x7f), output.path).toBe(-1);
    }
  });

  it('fails when a chunk entry is imported statically', async () => {
    const entry = join(dir, 'static-import.ts');
    const sieveDelivery = relative(dir, join(ROOT, 'src/deliver/sieve-delivery.js'));
    writeFileSync(entry, `import { deliverWithSieve } from ${JSON.stringify(sieveDelivery)};\nexport const used = deliverWithSieve;\n`);
    await expect(buildScript.buildBundles({ entry, outfile: join(dir, 'static', 'dovetail.js'), target: 'node20' })).rejects.toThrow(
      /src\/deliver\/sieve-delivery\.ts starts the sieve chunk/,
    );
  });
});

