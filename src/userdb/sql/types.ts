// The contract between the SQL userdb (../sql.ts: args file, query, fields)
// and its database drivers (./sqlite.ts, ./pgsql.ts, ./mysql.ts). A driver
// is loaded only when a config names it, connects once per lookup in LDA
// mode, and turns every failure (refused, timeout, bad query, lost
// connection) into an SqlError; the userdb turns that into a temporary
// failure (75), never a bounce.

export type SqlDriverName = 'sqlite' | 'pgsql' | 'mysql';

/** One result row: column name → value as text (numbers in decimal); SQL NULL → null. */
export type SqlRow = Readonly<Record<string, string | null>>;

export interface SqlConnection {
  /** runs one query (already %-expanded and escaped) and returns its rows */
  query(sql: string): Promise<SqlRow[]>;
  /** never throws */
  close(): Promise<void>;
}

export interface SqlDriver {
  /**
   * Opens a connection from the args file's `connect` value (a path for
   * SQLite; `host=... port=... dbname=... user=... password=...` for
   * PostgreSQL and MySQL, several `host=` tried in order). Gives up after
   * timeoutMs (at most 5 s) with an SqlError.
   */
  connect(connect: string, timeoutMs: number): Promise<SqlConnection>;
  /** the driver's string escaping for a %-variable's value inside '...', as Dovecot's driver escapes */
  escape(value: string): string;
}

export class SqlError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SqlError';
  }
}
