// The SQL userdb rows of the side-by-side table (./sql.test.ts runs them):
// dovecot-lda with Dovecot's auth reading `userdb { driver = sql }`
// (dovecot-sqlite, dovecot-pgsql) beside Dovetail with the same config. Every
// case runs as root with -d; each side gets its own args file
// {DIR}/dovecot-sql.conf.ext and its own rows (homes under its {HOME}), loaded
// by the database backend (SQLite file, PostgreSQL database) before the run.
// The database going away is the backend's own: a removed or overwritten
// SQLite file; a PostgreSQL database that ends every connection and refuses
// new ones after Dovecot's auth has made its first lookup (doveadm user), as
// a running auth service has its connections. (Dovecot 2.3.19's auth process
// crashes when its first connect fails, and once its connections are lost,
// every lookup after the first waits 60 s for a new one.)
// Each case says what dovecot-lda does with it (`dovecot`), checked before
// Dovetail is compared. The table is Postfix-style, one row per address:
// users(userid, domain, home, uid, gid, mail), queried with %n and %d.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompatCase } from './harness.js';
import { mailUid, mailGid, MAIL_USER } from '../e2e/harness.js';

export interface SqlOutcome {
  /** dovecot-lda's exit status */
  status: number;
  /** where the message landed (harness landedMessages): "Maildir/new", "inbox" */
  landed: string[];
}

export interface SqlCase extends CompatCase {
  /** what dovecot-lda with Dovecot's SQL userdb does: the case's name must say the same */
  dovecot: SqlOutcome;
}

/**
 * The databases that Dovecot's auth and Dovetail read, made again for every
 * case and side. DATABASE is the backend's default one, or one it names.
 */
export interface SqlBackend {
  /** the args file's `driver` */
  driver: 'sqlite' | 'pgsql';
  /** the args file's `connect` for a side's DIR */
  connect(dir: string, database?: string): string;
  /** makes the database hold just what these statements (DROP and CREATE TABLE users, INSERTs) make */
  load(dir: string, statements: string, database?: string): void;
  /** ways the database can go away right before the delivery (authSocket: see CompatCase.beforeDelivery), each a case that must defer (75) */
  gone: { name: string; beforeDelivery: (dir: string, authSocket: string | undefined) => void }[];
  /** a database whose server reads '...' with backslash escapes (PostgreSQL's standard_conforming_strings = off) */
  backslashEscapes?: string;
}

interface UserRow {
  userid: string;
  domain?: string;
  /** {HOME} is the side's home */
  home: string;
  uid?: number;
  gid?: number;
  mail?: string;
}

const USER = `${MAIL_USER}@example.org`;
const SIMPLE = 'From: a@example.org\nSubject: hello\nMessage-ID: <m1@example.org>\n\nbody\n';
const QUERY = "SELECT home, uid, gid, mail FROM users WHERE userid = '%n' AND domain = '%d'";
/** the args file, in each side's DIR */
const ARGS_FILE = 'dovecot-sql.conf.ext';

/** The table most cases read: the mail user, a second user whose home does not exist yet, names with a quote and with a backslash. */
const ROWS: UserRow[] = [
  { userid: MAIL_USER, home: '{HOME}' },
  { userid: 'postmaster', home: '{HOME}/postmaster' },
  { userid: "o'brien", home: '{HOME}/obrien' },
  { userid: "back\\slash'quote", home: '{HOME}/backslash' },
];

/** A value as an SQL literal (SQLite and PostgreSQL alike): quotes doubled, null as NULL. */
function literal(value: string | number | undefined): string {
  if (value === undefined) return 'NULL';
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''")}'`;
}

function tableStatements(rows: UserRow[], home: string): string {
  const values = rows.map((row) =>
    [row.userid, row.domain ?? 'example.org', row.home.replaceAll('{HOME}', home), row.uid ?? mailUid!, row.gid ?? mailGid!, row.mail].map(literal).join(', '),
  );
  return [
    'DROP TABLE IF EXISTS users;',
    'CREATE TABLE users (userid TEXT NOT NULL, domain TEXT NOT NULL, home TEXT, uid INTEGER, gid INTEGER, mail TEXT);',
    ...values.map((row) => `INSERT INTO users VALUES (${row});`),
    '',
  ].join('\n');
}

interface CaseOptions {
  rows?: UserRow[];
  query?: string;
  /** another database of the backend's */
  database?: string;
  /** userdb blocks in front of the sql one */
  userdbBefore?: string[];
}

/** A -d case reading the SQL userdb of BACKEND, with ROWS unless the options say otherwise. */
function sqlCase(backend: SqlBackend, name: string, user: string, dovecot: SqlOutcome, extra: Partial<Omit<SqlCase, 'setup'>> = {}, options: CaseOptions = {}): SqlCase {
  const { rows = ROWS, query = QUERY, database, userdbBefore = [] } = options;
  return {
    name: `${backend.driver}: ${name}`,
    as: 'root',
    args: ['-d', user],
    input: SIMPLE,
    userdb: [...userdbBefore, 'userdb {', '  driver = sql', `  args = {DIR}/${ARGS_FILE}`, '}'],
    dovecot,
    ...extra,
    setup: (home, dir) => {
      const args = [`driver = ${backend.driver}`, `connect = ${backend.connect(dir, database)}`, `user_query = ${query}`, ''];
      writeFileSync(join(dir, ARGS_FILE), args.join('\n'), { mode: 0o644 });
      backend.load(dir, tableStatements(rows, home), database);
    },
  };
}

/** Has Dovecot's auth look USER up once (it then holds its connection), with the case's config. */
export function dovecotLookup(dir: string, authSocket: string): void {
  const result = spawnSync('doveadm', ['-c', join(dir, 'dovecot.conf'), 'user', '-a', authSocket, USER], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`doveadm user ${USER} failed (${result.status}): ${result.stderr}`);
}

const DELIVERED: SqlOutcome = { status: 0, landed: ['Maildir/new'] };
const UNKNOWN: SqlOutcome = { status: 67, landed: [] };
const DEFERRED: SqlOutcome = { status: 75, landed: [] };

/** The cases, over one backend; names start with the driver. */
export function sqlCases(backend: SqlBackend): SqlCase[] {
  const mailRow = (mail: string): UserRow[] => [{ userid: MAIL_USER, home: '{HOME}', mail }];
  const anyName = ['auth_username_chars ='];
  // a name with a backslash is no valid address; dovecot-lda makes one of any
  // -d name (all before the last @ as the local part): here -a gives the
  // recipient, so that these cases test the lookup alone
  const backslashName = "back\\slash'quote@example.org";
  const backslashUser: Partial<Omit<SqlCase, 'setup'>> = { args: ['-d', backslashName, '-a', USER], authSettings: anyName };
  return [
    // known users
    sqlCase(backend, 'known user, mail NULL: mail_location applies', USER, DELIVERED),
    sqlCase(backend, 'another known user, home not made yet', `postmaster@example.org`, { status: 0, landed: ['postmaster/Maildir/new'] }),
    sqlCase(backend, 'passwd-file without the user, then sql', USER, DELIVERED, { users: ['someone@example.org::1:1::/nonexistent::'] }, {
      userdbBefore: ['userdb {', '  driver = passwd-file', '  args = {DIR}/users', '}'],
    }),
    sqlCase(backend, 'two rows for the user: the first one counts', USER, { status: 0, landed: ['First/new'] }, {}, {
      rows: [...mailRow('maildir:~/First'), ...mailRow('maildir:~/Second')],
    }),

    // the mail field
    sqlCase(backend, 'mail column overrides mail_location: mbox', USER, { status: 0, landed: ['inbox'] }, {}, { rows: mailRow('mbox:~/mail:INBOX=~/inbox') }),
    sqlCase(backend, 'mail column with LAYOUT=fs, -m a/b autocreated', USER, { status: 0, landed: ['Maildir/a/b/new'] }, { args: ['-d', USER, '-m', 'a/b'], config: ['lda_mailbox_autocreate = yes'] }, {
      rows: mailRow('maildir:~/Maildir:LAYOUT=fs'),
    }),

    // names
    sqlCase(backend, 'upper-case name folded by auth_username_format %Lu', `${MAIL_USER.toUpperCase()}@Example.ORG`, DELIVERED, { authSettings: ['auth_username_format = %Lu'] }),
    sqlCase(backend, 'upper-case name kept by auth_username_format %u: unknown', `${MAIL_USER.toUpperCase()}@Example.ORG`, UNKNOWN, { authSettings: ['auth_username_format = %u'] }),
    sqlCase(backend, 'unknown user', 'nobody@example.org', UNKNOWN),
    sqlCase(backend, 'known local part, wrong domain: unknown', `${MAIL_USER}@example.net`, UNKNOWN),
    sqlCase(backend, "a quote in the name, refused by the default auth_username_chars: unknown", "o'brien@example.org", UNKNOWN),
    sqlCase(backend, 'a quote in the name, allowed by auth_username_chars, escaped in the query', "o'brien@example.org", { status: 0, landed: ['obrien/Maildir/new'] }, { authSettings: anyName }),
    sqlCase(backend, "a quote in the name cannot change the query (x' OR '1'='1): unknown", "x' OR '1'='1@example.org", UNKNOWN, { authSettings: anyName }),
    sqlCase(backend, 'a backslash and a quote in the name, escaped in the query', backslashName, { status: 0, landed: ['backslash/Maildir/new'] }, backslashUser),
    sqlCase(backend, "a backslash before a quote cannot change the query (x\\' OR 1=1 --): unknown", "x\\' OR 1=1 -- @example.org", UNKNOWN, { authSettings: anyName }),
    ...(backend.backslashEscapes === undefined
      ? []
      : [
          sqlCase(backend, 'a backslash and a quote in the name, server with backslash escapes', backslashName, { status: 0, landed: ['backslash/Maildir/new'] }, backslashUser, {
            database: backend.backslashEscapes,
          }),
          sqlCase(backend, "a backslash before a quote, server with backslash escapes (x\\' OR 1=1 --): unknown", "x\\' OR 1=1 -- @example.org", UNKNOWN, { authSettings: anyName }, {
            database: backend.backslashEscapes,
          }),
        ]),

    // fields delivery cannot use
    sqlCase(backend, 'uid 0: deferred', USER, DEFERRED, {}, { rows: [{ userid: MAIL_USER, home: '{HOME}', uid: 0, gid: 0 }] }),
    sqlCase(backend, 'uid below first_valid_uid: deferred', USER, DEFERRED, {}, { rows: [{ userid: MAIL_USER, home: '{HOME}', uid: 100, gid: 100 }] }),

    // the database failing
    sqlCase(backend, 'query naming a missing column: deferred', USER, DEFERRED, {}, { query: QUERY.replace('SELECT home', 'SELECT no_such_column, home') }),
    ...backend.gone.map(({ name, beforeDelivery }) => sqlCase(backend, `${name}: deferred`, USER, DEFERRED, { beforeDelivery: (_home, dir, authSocket) => beforeDelivery(dir, authSocket) })),
  ];
}
