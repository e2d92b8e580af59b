// An in-memory ConfigFs for the config tests: absolute paths → file text;
// directories exist implicitly; errors carry Node's errno codes.

import type { ConfigFs } from '../../src/config/parse.js';

function errnoError(code: string, text: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${text}, open '${path}'`), { code });
}

export function memoryFs(files: Record<string, string>, unreadable: readonly string[] = []): ConfigFs {
  const isDirectory = (path: string) => Object.keys(files).some((file) => file.startsWith(`${path.replace(/\/$/, '')}/`));
  return {
    readFile(path) {
      if (unreadable.includes(path)) throw errnoError('EACCES', 'permission denied', path);
      if (!Object.hasOwn(files, path)) throw errnoError('ENOENT', 'no such file or directory', path);
      return files[path];
    },
    readdir(path) {
      const prefix = `${path.replace(/\/$/, '')}/`;
      const names = Object.keys(files)
        .filter((file) => file.startsWith(prefix))
        .map((file) => file.slice(prefix.length).split('/')[0]);
      if (names.length === 0) throw errnoError('ENOENT', 'no such file or directory', path);
      return [...new Set(names)];
    },
    exists: (path) => Object.hasOwn(files, path) || isDirectory(path),
  };
}
