// What other programs make of an mbox that bin/dovetail wrote: awkward
// messages delivered into one mbox, then read back by Dovecot itself
// (doveadm fetch, its Content-Length-aware mbox code), by mutt (driven through
// a pty by `script`, each message piped to a file) and by Python's
// mailbox.mbox (a pure From_-line splitter). All three must see the same
// messages, quoted ">From " lines as written, and mboxrd unquoting must give
// back each input. The same messages delivered by dovecot-lda (no quoting)
// show why Dovetail quotes: the From_-line splitter cuts them apart.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, chownSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DOVETAIL, MAIL_USER, mailUid, mailGid, makeSandbox, baseConfigLines, e2eUnavailable, type Sandbox } from '../e2e/harness.js';
import { DOVECOT_LDA, compatUnavailable } from './harness.js';
import { parseMessage, unquoteMboxrd } from './mbox-reader.js';

const PYTHON = '/usr/bin/python3';
const MUTT = '/usr/bin/mutt';
const SCRIPT = '/usr/bin/script';

const unavailable =
  e2eUnavailable ??
  compatUnavailable ??
  [PYTHON, MUTT, SCRIPT].map((program) => (existsSync(program) ? undefined : `${program} is not installed`)).find(Boolean);

interface TestMessage {
  /** the -f argument */
  sender: string;
  input: string;
  /** what a reader should give back after unquoting, when not the input: the input without the fields Dovetail drops */
  stored?: string;
}

const MESSAGES: TestMessage[] = [
  { sender: 'plain@example.org', input: 'From: a@example.org\nSubject: plain\n\nbody\n' },
  { sender: 'lines@example.org', input: 'Subject: From lines\n\nFrom here on\n>From there\n>>From further\nFromage\n> From not quoted\n' },
  {
    sender: 'forward@example.org',
    input:
      'Subject: an mbox inside\n\nforwarded:\n\nFrom old@example.org  Mon Nov 23 09:00:00 2026\nSubject: old\n\nold body\n\n' +
      'From MAILER-DAEMON  Mon Nov 23 09:00:01 2026\n\n',
  },
  { sender: '<>', input: 'Subject: body starts with From\n\nFrom the start\n\n\n' },
  { sender: 'eight@example.org', input: 'Subject: 8-bit\n\ncaf\u00e9 \u00ff \u0000 end\n' },
  {
    sender: 'flags@example.org',
    input: 'Subject: bookkeeping\nStatus: RO\nX-UID: 99999\nX-Keywords: $Label1\nX-Status: AF\n\nflags body\n',
    stored: 'Subject: bookkeeping\n\nflags body\n',
  },
];

/** A message as a reader shows it: From_ sender (when the reader shows one), header fields without Content-Length, body. */
interface ReadMessage {
  sender?: string;
  fields: string[];
  body: string;
}

function readMessage(message: Buffer, sender?: string): ReadMessage {
  const { fields, body } = parseMessage(message);
  return { ...(sender === undefined ? {} : { sender }), fields: fields.filter((f) => !/^content-length:/i.test(f)), body: body.toString('latin1') };
}

/** "From sender  date\n<message>" → the message as read, with the From_ line's sender. */
function readWithFromLine(text: Buffer): ReadMessage {
  const lineEnd = text.indexOf(0x0a);
  const sender = /^From (\S+) /.exec(text.subarray(0, lineEnd).toString('latin1'))?.[1] ?? '(no From_ line)';
  return readMessage(text.subarray(lineEnd + 1), sender);
}

/** mboxrd quoting, written here independently of Dovetail's: one more ">" on every line matching >*From. */
function quoted(text: string): string {
  return text.replace(/^(>*From )/gm, '>$1');
}

function expectedRead(message: TestMessage): ReadMessage {
  const { fields, body } = parseMessage(Buffer.from(message.stored ?? message.input, 'latin1'));
  return { sender: message.sender === '<>' ? 'MAILER-DAEMON' : message.sender, fields, body: quoted(body.toString('latin1')) };
}

function withoutSender({ fields, body }: ReadMessage): ReadMessage {
  return { fields, body };
}

function configFile(sandbox: Sandbox): string {
  const log = sandbox.file('mail.log', '');
  chownSync(log, mailUid!, mailGid!);
  const users = sandbox.file('users', `${MAIL_USER}::${mailUid}:${mailGid}::${sandbox.home}::\n`);
  return sandbox.file('dovecot.conf', [...baseConfigLines(log, users), 'mail_location = mbox:~/mail:INBOX=~/inbox', ''].join('\n'));
}

/** Runs `program` as the mail user with HOME and USER, as Postfix's local(8) runs a mailbox_command. */
function runAsMailUser(program: string, args: string[], home: string, input: string | Buffer = '') {
  return spawnSync(program, args, {
    input,
    env: { PATH: '/usr/bin:/bin', HOME: home, USER: MAIL_USER },
    uid: mailUid!,
    gid: mailGid!,
    timeout: 20_000,
  });
}

function deliverAll(program: string, sandbox: Sandbox): string {
  const config = configFile(sandbox);
  for (const message of MESSAGES) {
    const result = runAsMailUser(program, ['-c', config, '-f', message.sender], sandbox.home, Buffer.from(message.input, 'latin1'));
    if (result.status !== 0) throw new Error(`${program} exited with ${result.status}: ${result.stderr}`);
  }
  return config;
}

/** Python's mailbox.mbox: each message with its From_ line, in file order. */
function readWithPython(mbox: string): ReadMessage[] {
  const program = [
    'import base64, json, mailbox, sys',
    'box = mailbox.mbox(sys.argv[1], create=False)',
    'print(json.dumps([base64.b64encode(box.get_bytes(key, from_=True)).decode() for key in box.keys()]))',
  ].join('\n');
  const result = spawnSync(PYTHON, ['-c', program, mbox], { encoding: 'utf8', timeout: 20_000 });
  if (result.status !== 0) throw new Error(`python3 exited with ${result.status}: ${result.stderr}`);
  return (JSON.parse(result.stdout) as string[]).map((raw) => readWithFromLine(Buffer.from(raw, 'base64')));
}

/** mutt, read-only, in a pty: tags every message and pipes them undecoded, with a separator line, into one file. */
function readWithMutt(mbox: string): ReadMessage[] {
  const dir = mkdtempSync('/tmp/dovetail-mutt-');
  try {
    const separator = `--mutt-separator-${randomBytes(8).toString('hex')}--`;
    const output = join(dir, 'piped');
    const muttrc = join(dir, 'muttrc');
    writeFileSync(
      muttrc,
      [
        // an existing $folder, or mutt asks whether to create ~/Mail and takes the pushed keys for the answer
        `set folder=${dir} mbox_type=mbox sort=mailbox-order pipe_split=no pipe_decode=no wait_key=no quit=yes`,
        `set pipe_sep="\\n${separator}\\n"`,
        `push "<tag-pattern>~A<enter><tag-prefix><pipe-message>cat > ${output}<enter><quit>"`,
        '',
      ].join('\n'),
    );
    const result = spawnSync(SCRIPT, ['-qec', `${MUTT} -n -F ${muttrc} -R -f ${mbox}`, '/dev/null'], {
      stdio: 'ignore',
      env: { PATH: '/usr/bin:/bin', TERM: 'vt100', HOME: dir },
      timeout: 20_000,
    });
    if (result.status !== 0 || !existsSync(output)) throw new Error(`mutt exited with ${result.status} and piped nothing`);
    const chunks = readFileSync(output).toString('latin1').split(`\n${separator}\n`);
    if (chunks.at(-1) !== '') throw new Error(`mutt piped something after its last separator: ${JSON.stringify(chunks.at(-1)?.slice(0, 200))}`);
    return chunks.slice(0, -1).map((chunk) => readWithFromLine(Buffer.from(chunk, 'latin1')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface DovecotMessage {
  uid: number;
  flags: string;
  read: ReadMessage;
}

/** Dovecot's own mbox code: `doveadm fetch` as the user, raw pager output (messages apart by form feeds). */
function readWithDovecot(config: string, home: string): DovecotMessage[] {
  const result = runAsMailUser('doveadm', ['-c', config, '-f', 'pager', 'fetch', 'uid flags text', 'mailbox', 'INBOX', 'all'], home);
  if (result.status !== 0) throw new Error(`doveadm exited with ${result.status}: ${result.stderr.toString()}`);
  const output = result.stdout.toString('latin1');
  return output === ''
    ? []
    : output.split('\f\n').map((chunk) => {
        const match = /^uid: (\d+)\nflags: (.*)\ntext:\n([^]*)$/.exec(chunk);
        if (!match) throw new Error(`unexpected doveadm output: ${JSON.stringify(chunk.slice(0, 200))}`);
        return { uid: Number(match[1]), flags: match[2], read: readMessage(Buffer.from(match[3], 'latin1')) };
      });
}

describe.skipIf(unavailable !== undefined)(`mbox written by dovetail, read by others${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let dovetail: Sandbox;
  let dovecotLda: Sandbox;
  let dovetailConfig: string;
  let dovecotLdaConfig: string;
  // Python and mutt only read; Dovecot may rewrite its bookkeeping headers, so it reads last.
  let python: ReadMessage[];
  let mutt: ReadMessage[];
  let dovecot: DovecotMessage[];

  beforeAll(() => {
    dovetail = makeSandbox();
    dovecotLda = makeSandbox();
    dovetailConfig = deliverAll(DOVETAIL, dovetail);
    dovecotLdaConfig = deliverAll(DOVECOT_LDA, dovecotLda);
    const mbox = join(dovetail.home, 'inbox');
    python = readWithPython(mbox);
    mutt = readWithMutt(mbox);
    dovecot = readWithDovecot(dovetailConfig, dovetail.home);
  });

  afterAll(() => {
    dovetail?.cleanup();
    dovecotLda?.cleanup();
  });

  it('Python, mutt and Dovecot see every message, with its headers and its body as written (quoted)', () => {
    const expected = MESSAGES.map(expectedRead);
    expect(python).toEqual(expected);
    expect(mutt).toEqual(expected);
    expect(dovecot.map((message) => message.read)).toEqual(expected.map(withoutSender));
  });

  it('mboxrd unquoting gives back each input', () => {
    const unquote = ({ fields, body }: ReadMessage) => `${fields.join('\n')}\n\n${unquoteMboxrd(Buffer.from(body, 'latin1')).toString('latin1')}`;
    const inputs = MESSAGES.map((message) => message.stored ?? message.input);
    expect(python.map(unquote)).toEqual(inputs);
    expect(mutt.map(unquote)).toEqual(inputs);
    expect(dovecot.map((message) => unquote(message.read))).toEqual(inputs);
  });

  it('Dovecot numbers the messages itself and takes no flags from their input', () => {
    expect(dovecot.map((message) => message.uid)).toEqual(MESSAGES.map((_, i) => i + 1));
    expect(dovecot.filter((message) => /\\(Seen|Answered|Flagged)|\$Label1/.test(message.flags))).toEqual([]);
  });

  it("dovecot-lda does not quote: Dovecot reads its mbox, Python's From_-line splitter cuts it at every body line starting with From", () => {
    const bodyFromLines = MESSAGES.flatMap((message) => parseMessage(Buffer.from(message.input, 'latin1')).body.toString('latin1').match(/^From /gm) ?? []);
    expect(bodyFromLines.length).toBe(4);
    expect(readWithDovecot(dovecotLdaConfig, dovecotLda.home)).toHaveLength(MESSAGES.length);
    const split = readWithPython(join(dovecotLda.home, 'inbox'));
    expect(split).toHaveLength(MESSAGES.length + bodyFromLines.length);
    expect(split.map((message) => message.sender)).toContain('here');
  });
});
