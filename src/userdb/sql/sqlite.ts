// The SQLite driver of the SQL userdb, on Node's built-in node:sqlite (no
// native addon: the Node inside the single executable has it; the system Node
// running bin/dovetail may not). Loaded only when an args file says
// `driver = sqlite`.
//
// As Dovecot 2.3.19's driver-sqlite.c: `connect` is the database file's path,
// the whole value (2.4's `readonly=` options are part of the path in 2.3);
// string escaping doubles the single quote and nothing else (backslashes mean
// nothing to SQLite); only the query's first statement runs; double-quoted
// strings are accepted as literals, as Debian's libsqlite3 accepts them
// (node:sqlite refuses them by default). Values are text as Dovecot gets
// them from sqlite3_column_text(): integers exact (64-bit), blobs as their
// bytes read as UTF-8, reals as Debian 12's libsqlite3 3.40 prints them
// ("%!.15g": 1000.0, 0.333333333333333, 1.0e+20). The SQLite inside Node
// (3.5x) prints some reals otherwise (0.33333333333333332, 1000000000000000.0),
// which shows only where a query itself turns a real into text (CAST, ||).
//
// Differences, on purpose: the file is opened read-only, so a missing file is
// an error (Dovecot 2.3 creates an empty database there, then fails with "no
// such table") and no query can write; a locked database is waited for up to
// the connect timeout (Dovecot: 1 s).
//
// Failure (SqlError, one line): no node:sqlite in this Node, the file cannot
// be opened (with the system's reason: ENOENT, EACCES, ...) or is not a
// database, the query fails (syntax, no such table, busy past the timeout).

import { closeSync, openSync } from 'node:fs';
import { SqlError, type SqlConnection, type SqlDriver, type SqlRow } from './types.js';

/** The parts of node:sqlite used here (@types/node 20 does not describe the module). */
interface SqliteModule {
  DatabaseSync: new (path: string, options: { readOnly: boolean; timeout: number; enableDoubleQuotedStringLiterals: boolean }) => SqliteDatabase;
}
interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  close(): void;
}
interface SqliteStatement {
  setReadBigInts(enabled: boolean): void;
  setReturnArrays(enabled: boolean): void;
  columns(): { name: string }[];
  all(): SqliteValue[][];
}
type SqliteValue = null | bigint | number | string | Uint8Array;

/** %!.15g: at most 15 significant digits, always a decimal point, exponent from 1e15 or below 1e-4. */
const REAL_DIGITS = 15;

export const sqliteDriver: SqlDriver = {
  async connect(connect: string, timeoutMs: number): Promise<SqlConnection> {
    const { DatabaseSync } = sqliteModule();
    if (connect === '') throw new SqlError('SQLite connect is empty: it must be the database file');
    let database: SqliteDatabase;
    try {
      database = new DatabaseSync(connect, { readOnly: true, timeout: timeoutMs, enableDoubleQuotedStringLiterals: true });
    } catch (error) {
      throw new SqlError(`can't open SQLite database ${connect}: ${openFailureReason(connect, error)}`, { cause: error });
    }
    return {
      async query(sql: string): Promise<SqlRow[]> {
        try {
          return rowsOf(database.prepare(sql));
        } catch (error) {
          throw new SqlError((error as Error).message, { cause: error });
        }
      },
      async close(): Promise<void> {
        try {
          database.close();
        } catch {
          // already closed: nothing to release
        }
      },
    };
  },
  escape: (value: string) => value.replaceAll("'", "''"),
};

function sqliteModule(): SqliteModule {
  const module = process.getBuiltinModule('node:sqlite') as { DatabaseSync?: { prototype: object }; StatementSync?: { prototype: object } } | undefined;
  const statement = module?.StatementSync?.prototype as Partial<SqliteStatement> | undefined;
  if (module?.DatabaseSync === undefined || typeof statement?.setReturnArrays !== 'function' || typeof statement.columns !== 'function') {
    throw new SqlError(`SQLite userdb needs Node >= 22.16 (node:sqlite), this is ${process.version}: use the single executable (dist/dovetail)`);
  }
  return module as unknown as SqliteModule;
}

/** The system's reason when the file itself cannot be opened for reading, else SQLite's. */
function openFailureReason(path: string, error: unknown): string {
  try {
    closeSync(openSync(path, 'r'));
  } catch (openError) {
    return (openError as Error).message.split(', ')[0];
  }
  return (error as Error).message;
}

/** Every row, columns in the query's order (a repeated name keeps its last value, as Dovecot's fields do). */
function rowsOf(statement: SqliteStatement): SqlRow[] {
  statement.setReadBigInts(true);
  statement.setReturnArrays(true);
  const names = statement.columns().map((column) => column.name);
  return statement.all().map((values) => Object.fromEntries(names.map((name, index) => [name, columnText(values[index])])));
}

/** A column's value as sqlite3_column_text() gives it. */
function columnText(value: SqliteValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return realText(value);
  if (typeof value === 'bigint' || typeof value === 'string') return String(value);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
}

/** A REAL as SQLite prints it ("%!.15g"): 1000.0, 0.333333333333333, 1.0e+20, 1.0e-07. */
export function realText(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Inf' : '-Inf';
  const [mantissa, exponentText] = value.toExponential(REAL_DIGITS - 1).split('e');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= REAL_DIGITS) {
    const sign = exponent < 0 ? '-' : '+';
    return `${withPoint(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return withPoint(Math.abs(value) === 0 ? '0' : value.toFixed(REAL_DIGITS - 1 - exponent));
}

/** Trailing zeros of the fraction dropped, keeping at least one digit after the point. */
function withPoint(digits: string): string {
  if (!digits.includes('.')) return `${digits}.0`;
  const trimmed = digits.replace(/0+$/, '');
  return trimmed.endsWith('.') ? `${trimmed}0` : trimmed;
}
