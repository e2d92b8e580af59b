// SQL userdb side by side: each case of ./sql-cases.ts runs through
// dovecot-lda, whose user lookup goes to Dovecot's auth with
// `userdb { driver = sql }` (Debian's dovecot-sqlite, dovecot-pgsql), and
// through Dovetail with the same config, arguments and input: over SQLite
// always, over PostgreSQL when a private server can start here
// (../helpers/postgres.ts; else skipped with the reason). First Dovecot's side must do
// what the case says (exit status, where the message landed), so that a case
// cannot silently test nothing; then Dovetail's exit status and home tree
// must equal Dovecot's.
//
// Dovetail's side is the single executable dist/dovetail (`npm run package`):
// the SQLite driver needs node:sqlite, which the Node inside it has and the
// system Node running bin/dovetail lacks. Without dist/dovetail the
// comparisons are skipped, saying so; a dist/dovetail older than the sources
// fails them.
//
// DOVETAIL_COMPAT_SIDE=dovecot runs only Dovecot's side (dist/dovetail not
// needed) and prints each result (status, tree, delivery log, what Dovecot's
// auth logged) for checking the cases themselves.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CompatSuite, CompatTally, compatUnavailable, landedMessages, type SideResult } from './harness.js';
import { dovecotLookup, sqlCases, type SqlBackend, type SqlCase } from './sql-cases.js';
import { postgresUnavailable, startPostgres, type PostgresServer } from '../helpers/postgres.js';

const onlyDovecot = process.env.DOVETAIL_COMPAT_SIDE === 'dovecot';
const DOVETAIL_EXECUTABLE = resolve(__dirname, '../../dist/dovetail');
const DOVECOT_AUTH_DRIVERS = '/usr/lib/dovecot/modules/auth';

const dovetailUnavailable =
  onlyDovecot || existsSync(DOVETAIL_EXECUTABLE)
    ? undefined
    : 'dist/dovetail is missing: run npm run package (the SQLite userdb needs node:sqlite, which the Node inside the single executable has and the system Node lacks)';

/** Why a backend's cases cannot run: the compat suite's reasons, Dovecot's driver module, the backend's own reason (OTHERREASON), dist/dovetail. */
function unavailable(driverPackage: string, module: string, otherReason?: string): string | undefined {
  if (compatUnavailable !== undefined) return compatUnavailable;
  if (!existsSync(join(DOVECOT_AUTH_DRIVERS, module))) return `${driverPackage} is not installed (apt-get install ${driverPackage}; .ci/run does)`;
  return otherReason ?? dovetailUnavailable;
}

const sqlite3Unavailable =
  spawnSync('sqlite3', ['-version']).status === 0 ? undefined : 'sqlite3, which fills the databases, is not installed (apt-get install sqlite3; .ci/run does)';

const SQLITE_DATABASE = 'users.db';

const SQLITE: SqlBackend = {
  driver: 'sqlite',
  connect: (dir, database = SQLITE_DATABASE) => join(dir, database),
  load(dir, statements, database = SQLITE_DATABASE) {
    const path = join(dir, database);
    rmSync(path, { force: true });
    const result = spawnSync('sqlite3', ['-bail', path], { input: statements, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`sqlite3 ${path} failed: ${result.stderr}`);
  },
  gone: [
    { name: 'database file removed', beforeDelivery: (dir) => rmSync(join(dir, SQLITE_DATABASE)) },
    { name: 'database file overwritten, no longer a database', beforeDelivery: (dir) => writeFileSync(join(dir, SQLITE_DATABASE), 'not a database\n'.repeat(100)) },
  ],
};

/** The private PostgreSQL server of the pgsql cases, started in their beforeAll. */
let postgres: PostgresServer | undefined;
const PGSQL_DATABASE = 'mail';
/** a database that reads '...' with backslash escapes, as servers did before PostgreSQL 9.1 */
const PGSQL_BACKSLASH_DATABASE = 'mail_backslash';

const PGSQL: SqlBackend = {
  driver: 'pgsql',
  connect: (_dir, database = PGSQL_DATABASE) => `host=${postgres!.host} port=${postgres!.port} dbname=${database} user=postgres`,
  load(_dir, statements, database = PGSQL_DATABASE) {
    // the database may have gone away in the case before
    postgres!.sql(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true;`);
    // the statements' literals are standard ones, whatever the database reads by default
    postgres!.sql(`SET standard_conforming_strings = on;\n${statements}`, database);
  },
  gone: [
    {
      name: 'database going away after the first lookup (connections ended, new ones refused)',
      beforeDelivery(dir, authSocket) {
        if (authSocket !== undefined) dovecotLookup(dir, authSocket);
        postgres!.sql(
          `ALTER DATABASE ${PGSQL_DATABASE} ALLOW_CONNECTIONS false;\nSELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${PGSQL_DATABASE}';`,
        );
      },
    },
  ],
  backslashEscapes: PGSQL_BACKSLASH_DATABASE,
};

/** What Dovecot's side did, in the terms of SqlCase.dovecot. */
function outcome(result: SideResult) {
  return { status: result.status, landed: landedMessages(result.tree) };
}

function printed(testCase: SqlCase, result: SideResult): string {
  return [
    `=== ${testCase.name}`,
    `status ${result.status}`,
    ...result.tree,
    '--- log',
    result.log.trimEnd(),
    '--- auth log',
    result.authLog.trimEnd(),
    '--- stderr',
    result.stderr.trimEnd(),
  ].join('\n');
}

/**
 * The cases of BACKEND side by side, in a suite of their own (directory
 * /tmp/dovetail-compat-sql-DRIVER-PID); START and STOP run around them.
 */
function sideBySide(backend: SqlBackend, reason: string | undefined, start?: () => Promise<void>, stop?: () => void): void {
  const summary = new CompatTally();
  const cases = sqlCases(backend);
  const title = `SQL userdb (${backend.driver}): dovetail beside dovecot-lda${reason ? ` (skipped: ${reason})` : ''}`;
  describe.skipIf(reason !== undefined)(title, () => {
    // made in beforeAll, so that a run that filters every case out leaves no directory behind
    let suite: CompatSuite;
    beforeAll(async () => {
      await start?.();
      suite = new CompatSuite(`sql-${backend.driver}`, { dovetail: DOVETAIL_EXECUTABLE });
    });
    afterAll(() => {
      suite?.stop();
      stop?.();
      if (!onlyDovecot) console.log(summary.line(`SQL (${backend.driver}) cases`, 'dovecot-lda'));
    });

    it('has distinct case names', () => {
      expect(new Set(cases.map((testCase) => testCase.name)).size).toBe(cases.length);
    });

    cases.forEach((testCase, index) => {
      it(testCase.name, () => {
        const dovecot = suite.run(testCase, 'dovecot', index);
        if (onlyDovecot) console.log(printed(testCase, dovecot));
        expect(outcome(dovecot), `dovecot-lda does what "${testCase.name}" says\n${printed(testCase, dovecot)}`).toEqual({
          status: testCase.dovecot.status,
          landed: [...testCase.dovecot.landed].sort(),
        });
        if (onlyDovecot) return;

        const dovetail = suite.run(testCase, 'dovetail', index);
        if (!summary.record(testCase, dovetail.status === dovecot.status && JSON.stringify(dovetail.tree) === JSON.stringify(dovecot.tree))) return;
        expect({ status: dovetail.status, tree: dovetail.tree, stderr: dovetail.stderr }, `Dovetail's log:\n${dovetail.log}`).toEqual({
          status: dovecot.status,
          tree: dovecot.tree,
          stderr: expect.any(String),
        });
      });
    });
  });
}

sideBySide(SQLITE, unavailable('dovecot-sqlite', 'libdriver_sqlite.so', sqlite3Unavailable));
sideBySide(
  PGSQL,
  unavailable('dovecot-pgsql', 'libdriver_pgsql.so', postgresUnavailable),
  async () => {
    postgres = await startPostgres();
    postgres.sql(`CREATE DATABASE ${PGSQL_DATABASE};\nCREATE DATABASE ${PGSQL_BACKSLASH_DATABASE};\nALTER DATABASE ${PGSQL_BACKSLASH_DATABASE} SET standard_conforming_strings = off;`);
  },
  () => {
    postgres?.stop();
    postgres = undefined;
  },
);
