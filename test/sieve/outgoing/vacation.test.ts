import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  composeVacationReply,
  vacationSkipReason,
  vacationStateKey,
  type VacationAction,
  type VacationContext,
  type VacationReplyContext,
  type VacationSettings,
} from '../../../src/sieve/outgoing/vacation.js';

/** Pigeonhole's defaults for the vacation settings (what settings.ts gives with none set). */
const DEFAULT_VACATION_SETTINGS: VacationSettings = {
  useOriginalRecipient: false,
  dontCheckRecipient: false,
  sendFromRecipient: false,
  toHeaderIgnoreEnvelope: false,
  defaultSubject: '',
  defaultSubjectTemplate: '',
  userEmail: undefined,
};
import { parseAddressHeader } from '../../../src/sieve/runtime/address.js';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'sieve', 'vacation');

interface Envelope {
  returnPath: string;
  finalRecipient: string;
  originalRecipient?: string;
}

/** The header section of a fixture message (LF line ends, no blank line), as MessageView.header holds it. */
function headerOf(message: string | Buffer): Buffer {
  const buffer = Buffer.isBuffer(message) ? message : Buffer.from(message);
  const end = buffer.indexOf('\n\n');
  return end < 0 ? buffer : buffer.subarray(0, end + 1);
}

function vacationAction(fields: Partial<VacationAction> = {}): VacationAction {
  return { type: 'vacation', reason: 'away', addresses: [], mime: false, handle: 'h', periodSeconds: 604800, ...fields };
}

function context(message: string | Buffer, envelope: Envelope, options: { action?: Partial<VacationAction>; settings?: Partial<VacationSettings>; alreadyAnswered?: boolean } = {}): VacationContext {
  return {
    action: vacationAction(options.action),
    header: headerOf(message),
    returnPath: envelope.returnPath,
    finalRecipient: envelope.finalRecipient,
    originalRecipient: envelope.originalRecipient,
    settings: { ...DEFAULT_VACATION_SETTINGS, ...options.settings },
    alreadyAnswered: options.alreadyAnswered ?? false,
  };
}

function replyContext(base: VacationContext, extra: Partial<VacationReplyContext> = {}): VacationReplyContext {
  return {
    ...base,
    messageId: '<dovecot-sieve-1-2-0@host>',
    date: 'Mon, 30 Nov 2026 22:04:42 +0000',
    postmaster: 'postmaster@example.org',
    implicitUserEmail: 'user@host.example.org',
    ...extra,
  };
}

const ENVELOPE: Envelope = { returnPath: 'sender@example.com', finalRecipient: 'user@example.org' };
const TO_USER = 'From: Sender Name <sender@example.com>\nTo: user@example.org\nSubject: Hello\nMessage-ID: <m@x>\n\nbody\n';

describe('vacationSkipReason: the cases captured from Pigeonhole', () => {
  interface PolicyCase {
    name: string;
    message: string;
    envelope: Envelope;
    action: { addresses: string[] };
    settings: Partial<VacationSettings>;
    alreadyAnswered: boolean;
    reason: string | null;
  }
  const cases = JSON.parse(readFileSync(join(FIXTURES, 'policy.json'), 'utf8')) as PolicyCase[];

  it.each(cases)('$name', (c) => {
    const reason = vacationSkipReason(context(c.message, c.envelope, { action: c.action, settings: c.settings, alreadyAnswered: c.alreadyAnswered }));
    expect(reason ?? null).toBe(c.reason);
  });

  it('covers every reason and an answer', () => {
    const kinds = new Set(cases.map((c) => (c.reason === null ? 'sent' : c.reason.replace(/<.*$/, '').replace(/precedence=\w+/, 'precedence=X'))));
    expect([...kinds].sort()).toEqual([
      'discarded duplicate vacation response to ',
      'discarded vacation reply to ',
      'discarded vacation reply to own address ',
      'discarding vacation response for implicitly delivered message; no known (envelope) recipient address found in message headers (recipient=',
      'discarding vacation response to auto-submitted message from ',
      'discarding vacation response to mailinglist recipient ',
      'discarding vacation response to message from ',
      'discarding vacation response to precedence=X message from ',
      'not sending vacation response to system address ',
      'sent',
    ]);
  });
});

describe('vacationSkipReason: beyond what dovecot-lda can be made to do', () => {
  it('no final recipient', () => {
    expect(vacationSkipReason(context(TO_USER, { ...ENVELOPE, finalRecipient: '' }))).toBe('vacation action aborted: envelope recipient is <>');
  });

  it.each([
    { name: 'the original recipient is unknown', envelope: { ...ENVELOPE, originalRecipient: undefined }, expected: 'original-recipient=<UNAVAILABLE>, ' },
    { name: 'the original recipient is known', envelope: { ...ENVELOPE, originalRecipient: 'orig@example.org' }, expected: 'original-recipient=<orig@example.org>, ' },
  ])('use_original_recipient when $name', ({ envelope, expected }) => {
    const reason = vacationSkipReason(context('From: sender@example.com\nTo: other@example.net\n', envelope, { settings: { useOriginalRecipient: true } }));
    expect(reason).toBe(
      'discarding vacation response for implicitly delivered message; no known (envelope) recipient address found in message headers ' +
        `(recipient=<user@example.org>, ${expected}and no additional \`:addresses' are specified)`,
    );
  });

  it('the original recipient does not count without use_original_recipient', () => {
    const message = 'From: sender@example.com\nTo: orig@example.org\n';
    expect(vacationSkipReason(context(message, { ...ENVELOPE, originalRecipient: 'orig@example.org' }))).toMatch(/^discarding vacation response for implicitly/);
    expect(vacationSkipReason(context(message, { ...ENVELOPE, originalRecipient: 'orig@example.org' }, { settings: { useOriginalRecipient: true } }))).toBeUndefined();
  });
});

describe('vacationStateKey', () => {
  it('ignores the case of the sender, not of the handle', () => {
    expect(vacationStateKey('Sender@Example.COM', 'h')).toBe(vacationStateKey('sender@example.com', 'h'));
    expect(vacationStateKey('sender@example.com', 'h')).not.toBe(vacationStateKey('sender@example.com', 'H'));
  });

  it('cannot be confused across sender and handle', () => {
    expect(vacationStateKey('a@b', 'cd')).not.toBe(vacationStateKey('a@bc', 'd'));
    expect(vacationStateKey('a@b', 'h')).not.toMatch(/^duplicate|^redirect/);
  });
});

/** The header field `name` (with its continuation lines), undefined when absent. */
function fieldOf(message: Buffer, name: string): string | undefined {
  const text = message.toString('latin1');
  const match = new RegExp(`^${name}: .*\\r\\n(?:[ \\t].*\\r\\n)*`, 'm').exec(text.slice(0, text.indexOf('\r\n\r\n') + 2));
  return match?.[0];
}

function withoutField(message: Buffer, name: string): Buffer {
  const field = fieldOf(message, name);
  return field === undefined ? message : Buffer.from(message.toString('latin1').replace(field, ''), 'latin1');
}

/** address.ts gives display names (ParsedAddress.name): the To field can carry the sender's name. */
const DISPLAY_NAMES = (parseAddressHeader('Some Name <a@example.com>')?.[0] as { name?: string } | undefined)?.name === 'Some Name';

describe('composeVacationReply: byte for byte as Pigeonhole, for the captured replies', () => {
  interface ReplyCase {
    description: string;
    action: Omit<VacationAction, 'type'>;
    envelope: Envelope;
    settings: Partial<VacationSettings>;
    sent: { sendmailArgs: string[] };
  }
  const names = readdirSync(join(FIXTURES, 'replies')).sort();
  const load = (name: string) => {
    const dir = join(FIXTURES, 'replies', name);
    const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as ReplyCase;
    const expected = readFileSync(join(dir, 'reply.eml'));
    const text = expected.toString('latin1');
    const header = (field: string) => new RegExp(`^${field}: (.*)\\r$`, 'm').exec(text)![1];
    const reply = composeVacationReply(
      replyContext(context(readFileSync(join(dir, 'message.eml')), c.envelope, { action: c.action, settings: c.settings }), {
        messageId: header('Message-ID'),
        date: header('Date'),
        implicitUserEmail: 'user@vm',
      }),
    );
    return { c, expected, reply };
  };

  it('has the fixtures', () => {
    expect(names.length).toBeGreaterThan(50);
  });

  it.each(names)('%s: envelope and message (To aside)', (name) => {
    const { c, expected, reply } = load(name);
    const [, , sender, , recipient] = c.sent.sendmailArgs;
    expect({ sender: reply.sender || '<>', recipient: reply.recipient }).toEqual({ sender, recipient });
    expect(withoutField(reply.message, 'To').toString('latin1')).toBe(withoutField(expected, 'To').toString('latin1'));
  });

  const withoutNames = names.filter((name) => /^To: </.test(fieldOf(readFileSync(join(FIXTURES, 'replies', name, 'reply.eml')), 'To') ?? ''));
  const withNames = names.filter((name) => !withoutNames.includes(name));

  it.each(withoutNames)('%s: To', (name) => {
    const { expected, reply } = load(name);
    expect(fieldOf(reply.message, 'To')).toBe(fieldOf(expected, 'To'));
  });

  // Needs ParsedAddress.name from ../runtime/address.ts (requested; see vacation.ts).
  it.skipIf(!DISPLAY_NAMES).each(withNames)('%s: To with the display name', (name) => {
    const { expected, reply } = load(name);
    expect(fieldOf(reply.message, 'To')).toBe(fieldOf(expected, 'To'));
  });
});

describe('composeVacationReply: cases Pigeonhole cannot be made to show through dovecot-lda', () => {
  it('writes From: <postmaster> when no address of the user is known (dont_check_recipient, no user email)', () => {
    const message = 'From: sender@example.com\nTo: other@example.net\nSubject: x\n\n';
    const reply = composeVacationReply(replyContext(context(message, ENVELOPE, { settings: { dontCheckRecipient: true } }), { implicitUserEmail: undefined }));
    expect(fieldOf(reply.message, 'From')).toBe('From: <postmaster@example.org>\r\n');
  });

  it('writes From: the implicit user address with dont_check_recipient', () => {
    const message = 'From: sender@example.com\nTo: other@example.net\nSubject: x\n\n';
    const reply = composeVacationReply(replyContext(context(message, ENVELOPE, { settings: { dontCheckRecipient: true } }), { implicitUserEmail: 'user@vm' }));
    expect(fieldOf(reply.message, 'From')).toBe('From: <user@vm>\r\n');
  });

  it.each([
    { name: 'LF', reason: 'one\ntwo' },
    { name: 'CRLF', reason: 'one\r\ntwo' },
  ])('ends reason lines with CRLF whether the script string has $name', ({ reason }) => {
    const reply = composeVacationReply(replyContext(context(TO_USER, ENVELOPE, { action: { reason } })));
    expect(reply.message.toString('latin1')).toMatch(/\r\n\r\none\r\ntwo\r\n$/);
  });

  it('the Message-ID and Date given are written as they are', () => {
    const reply = composeVacationReply(replyContext(context(TO_USER, ENVELOPE)));
    expect(reply.message.toString('latin1')).toMatch(/^X-Sieve: [^\r]+\r\nMessage-ID: <dovecot-sieve-1-2-0@host>\r\nDate: Mon, 30 Nov 2026 22:04:42 \+0000\r\nFrom: /);
  });

  it('sends from <> and to the return path by default', () => {
    const reply = composeVacationReply(replyContext(context(TO_USER, { returnPath: 'Sender@Example.com', finalRecipient: 'user@example.org' })));
    expect({ sender: reply.sender, recipient: reply.recipient }).toEqual({ sender: '', recipient: 'Sender@Example.com' });
  });
});
