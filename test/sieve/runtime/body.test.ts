// The body test's strings (RFC 5173). Every expected list was checked against
// Pigeonhole 0.5 (sieve-test: body :content "" / :text, :count and :matches).

import { describe, expect, it } from 'vitest';
import { extractBodyParts, htmlToText, type BodyTransform } from '../../../src/sieve/runtime/body.js';

/** header and body of a whole message (LF or CRLF), split at the first blank line */
function split(message: string): { header: Buffer; body: Buffer } {
  const crlf = message.indexOf('\r\n\r\n');
  const [at, length] = crlf >= 0 ? [crlf, 4] : [message.indexOf('\n\n'), 2];
  const raw = Buffer.from(message, 'latin1');
  return { header: raw.subarray(0, at + length / 2), body: raw.subarray(at + length) };
}

function parts(message: string, transform: BodyTransform): string[] {
  const { header, body } = split(message);
  return extractBodyParts(header, body, transform);
}

const all: BodyTransform = { type: 'content', contentTypes: [''] };
const text: BodyTransform = { type: 'text' };
const content = (...contentTypes: string[]): BodyTransform => ({ type: 'content', contentTypes });

// RFC 5173 section 7
const RFC5173_EXAMPLE = `From: Whomsoever
To: Someone
Date: Whenever
Subject: whatever
Content-Type: multipart/mixed; boundary=outer

This is a multi-part message in MIME format.

--outer
Content-Type: multipart/alternative; boundary=inner

This is a nested multi-part message in MIME format.

--inner
Content-Type: text/plain; charset="us-ascii"

Hello

--inner
Content-Type: text/html; charset="us-ascii"

<html><body>Hello</body></html>

--inner--

This is the end of the inner MIME multipart.

--outer
Content-Type: message/rfc822

From: Someone Else
Subject: hello request

Please say Hello

--outer--

This is the end of the outer MIME multipart.
`;

describe('extractBodyParts on the RFC 5173 example', () => {
  it.each<[string, BodyTransform, string[]]>([
    ['raw', { type: 'raw' }, [split(RFC5173_EXAMPLE).body.toString()]],
    [
      'all parts',
      all,
      [
        'This is a multi-part message in MIME format.\n',
        'This is a nested multi-part message in MIME format.\n',
        'Hello\n',
        '<html><body>Hello</body></html>\n',
        '\nThis is the end of the inner MIME multipart.\n',
        'From: Someone Else\r\nSubject: hello request\r\n',
        'Please say Hello\n',
        '\nThis is the end of the outer MIME multipart.\n',
      ],
    ],
    // a multipart is its prologue and epilogue only
    [
      'multipart',
      content('multipart'),
      [
        'This is a multi-part message in MIME format.\n',
        'This is a nested multi-part message in MIME format.\n',
        '\nThis is the end of the inner MIME multipart.\n',
        '\nThis is the end of the outer MIME multipart.\n',
      ],
    ],
    // a message/rfc822 part is the enclosed header; its body is a part of its own
    ['message/rfc822', content('message/rfc822'), ['From: Someone Else\r\nSubject: hello request\r\n']],
    ['text', content('TEXT'), ['Hello\n', '<html><body>Hello</body></html>\n', 'Please say Hello\n']],
    ['text/html', content('text/html'), ['<html><body>Hello</body></html>\n']],
    ['type/subtype is case-insensitive', content('Text/Plain'), ['Hello\n', 'Please say Hello\n']],
    ['several types', content('text/plain', 'message'), ['Hello\n', 'From: Someone Else\r\nSubject: hello request\r\n', 'Please say Hello\n']],
    ['no such type', content('image'), []],
    ['text: HTML reduced to text', text, ['Hello\n', 'Hello \n', 'Please say Hello\n']],
  ])('%s', (_name, transform, expected) => {
    expect(parts(RFC5173_EXAMPLE, transform)).toEqual(expected);
  });
});

describe('extractBodyParts: MIME structure', () => {
  it.each<[string, string, string[], string[]]>([
    [
      'RFC 2046 section 5.1.1: the line end before a boundary belongs to it',
      `Content-type: multipart/mixed; boundary="simple boundary"

This is the preamble.
--simple boundary

This is implicitly typed plain US-ASCII text.
It does NOT end with a linebreak.
--simple boundary
Content-type: text/plain; charset=us-ascii

This is explicitly typed plain US-ASCII text.
It DOES end with a linebreak.

--simple boundary--

This is the epilogue.
`,
      [
        'This is the preamble.',
        'This is implicitly typed plain US-ASCII text.\nIt does NOT end with a linebreak.',
        'This is explicitly typed plain US-ASCII text.\nIt DOES end with a linebreak.\n',
        '\nThis is the epilogue.\n',
      ],
      [
        'This is implicitly typed plain US-ASCII text.\nIt does NOT end with a linebreak.',
        'This is explicitly typed plain US-ASCII text.\nIt DOES end with a linebreak.\n',
      ],
    ],
    [
      'an outer boundary closes the inner multipart',
      'Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/alternative; boundary=in\n\npre-in\n--in\nContent-Type: text/plain\n\ninner one\n--out\nContent-Type: text/plain\n\nsecond outer\n--out--\n',
      ['', 'pre-in', 'inner one', 'second outer'],
      ['inner one', 'second outer'],
    ],
    [
      'boundaries match as prefixes, the longest open one wins',
      'Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: text/plain\n\nin ab\n--abc\nstill?\n--ab--\nep-ab\n--a\nsecond\n--a--\n',
      ['', '', 'in ab', 'ep-ab'],
      ['in ab'],
    ],
    [
      'a part header cut short by a boundary: no content',
      'Content-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/plain\n--X\nContent-Type: text/plain\n\nafter\n--X--',
      ['', 'after'],
      ['after'],
    ],
    [
      'an epilogue of one line end is kept',
      'Content-Type: multipart/mixed; boundary=X\n\n--X\n\none\n--X--\n\n',
      ['', 'one', '\n'],
      ['one'],
    ],
    [
      'a close delimiter right before an outer boundary: no epilogue; junk after it ignored',
      'Content-Type: multipart/mixed; boundary=O\n\n--O\nContent-Type: multipart/mixed; boundary=I\n\n--I\n\ni1\n--I-- trailing junk\n--O\n\no2\n--O--\n',
      ['', '', 'i1', 'o2'],
      ['i1', 'o2'],
    ],
    [
      'CRLF line ends; quoted-printable hard line ends become CRLF',
      'From: a@b\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\npre\r\n--X\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nline1=\r\nline2  \r\nline3\r\n--X\r\nContent-Type: text/html\r\n\r\n<p>a</p>\r\n<p>b</p>\r\n--X--\r\nepi\r\n',
      ['pre', 'line1line2\r\nline3', '<p>a</p>\r\n<p>b</p>', 'epi\r\n'],
      ['line1line2\r\nline3', 'a \r\nb '],
    ],
    [
      'message/rfc822 enclosing a multipart; only "message/rfc822" exactly gets the header',
      'Content-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: message/rfc822\n\nFrom: inner\nContent-Type: multipart/alternative; boundary=Y\nSubject: folded\n subject\n\ninner pre\n--Y\nContent-Type: text/plain\n\ninner text\n--Y\nContent-Type: text/html\n\n<b>inner</b> html\n--Y--\ninner epi\n--X\nContent-Type: Message/RFC822\n\nFrom: case\n\ncase body\n--X--\n',
      [
        '',
        'From: inner\r\nContent-Type: multipart/alternative; boundary=Y\r\nSubject: folded\r\n subject\r\n',
        'inner pre',
        'inner text',
        '<b>inner</b> html',
        'inner epi',
        '',
        'case body',
      ],
      ['inner text', 'inner  html', 'case body'],
    ],
    [
      'multipart/digest: a part without Content-Type is a message (typed text/plain)',
      'Content-Type: multipart/digest; boundary=D\n\n--D\n\nFrom: one\nSubject: s1\n\nbody one\n--D\nContent-Type: text/plain\n\nexplicit\n--D--\n',
      ['', '', 'body one', 'explicit'],
      ['', 'body one', 'explicit'],
    ],
    [
      'malformed types: junk after the type, no subtype, multipart without boundary, blanks',
      'Content-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/plain junk\n\njunk type\n--X\nContent-Type: text\n\nno subtype\n--X\nContent-Type: multipart/mixed\n\nmultipart without boundary\n--X\nContent-Type: text / html ; charset=utf-8\n\n<b>spaced</b>\n--X--\n',
      ['', 'junk type', 'no subtype', 'multipart without boundary', '<b>spaced</b>'],
      ['spaced '],
    ],
    [
      'folded Content-Type, quoted boundary with a blank, lines that only look like boundaries',
      'Content-Type: multipart/mixed;\n\tboundary="b c";\n  charset=x\n\n--\n--Y\n---b c\n--b c\nContent-Type: text/plain;\n charset=iso-8859-1\n\ncaf\xe9\n--b c--\n',
      ['--\n--Y\n---b c', 'café'],
      ['café'],
    ],
    ['no MIME at all', 'From: a@b\nSubject: plain\n\njust text\nwith lines\n', ['just text\nwith lines\n'], ['just text\nwith lines\n']],
    ['an empty body is one empty part', 'From: a@b\n\n', [''], ['']],
  ])('%s', (_name, message, expectedContent, expectedText) => {
    expect(parts(message, all)).toEqual(expectedContent);
    expect(parts(message, text)).toEqual(expectedText);
  });

  it('gives nothing for :raw of an empty body', () => {
    expect(extractBodyParts(Buffer.from('From: a@b\n'), Buffer.alloc(0), { type: 'raw' })).toEqual([]);
  });

  it('stops recognising boundaries after 10000 parts', () => {
    const body = '--B\n\nx\n'.repeat(10_005) + '--B--\n';
    const values = extractBodyParts(Buffer.from('Content-Type: multipart/mixed; boundary=B\n'), Buffer.from(body), all);
    expect(values).toHaveLength(10_000);
    // the root and 9999 parts; the last part runs to the end
    expect(values.at(-1)).toBe('x\n' + '--B\n\nx\n'.repeat(6) + '--B--\n');
  });
});

describe('extractBodyParts: decoding', () => {
  it.each<[string, string, string, string[]]>([
    ['base64 with line breaks', 'Content-Transfer-Encoding: base64', 'aGVsbG8gd29y\nbGQ=', ['hello world']],
    ['base64 stops at a bad character', 'Content-Transfer-Encoding: base64', 'aGVs!!bG8g d29y', ['hel']],
    ['base64 stops at padding', 'Content-Transfer-Encoding: BASE64 (comment)', 'aGVsbG8=aGVsbG8=', ['hello']],
    [
      'quoted-printable',
      'Content-Transfer-Encoding: quoted-printable\nContent-Type: text/plain; charset=utf-8',
      'caf=C3=A9 =3d =ZZ soft=\nbreak  \ntab\t\nend=4\nx= y\nlast=\n',
      ['café = =ZZ softbreak\r\ntab\r\nend=4\r\nx= y\r\nlast'],
    ],
    ['quoted-printable: blanks at the very end go', 'Content-Transfer-Encoding: quoted-printable', 'a =\nb  \t\nc   ', ['a b\r\nc']],
    ['7bit is as it is', 'Content-Transfer-Encoding: 7bit', 'a=3Db', ['a=3Db']],
    ['unknown encodings give nothing', 'Content-Transfer-Encoding: x-uuencode', 'begin 644', ['']],
    ['a token with junk after it is unknown', 'Content-Transfer-Encoding: 8bit garbage', 'raw', ['']],
    ['an empty encoding is unknown', 'Content-Transfer-Encoding:', 'raw', ['']],
    ['the last encoding header counts', 'Content-Transfer-Encoding: base64\nContent-Transfer-Encoding: quoted-printable', 'YWJj=41', ['YWJjA']],
    ['ISO-8859-1', 'Content-Type: text/plain; charset=iso-8859-1', 'caf\xe9', ['café']],
    ['windows-1252', 'Content-Type: text/plain; charset=windows-1252', 'a\x80b', ['a€b']],
    ['the first Content-Type gives the charset', 'Content-Type: text/plain; charset="iso-8859-1"\nContent-Type: text/plain; charset=utf-8', '\xe9', ['é']],
    ['charset with a comment', 'Content-Type: text/plain; charset=ISO-8859-1 (comment)', '\xe9', ['é']],
    ['a charset on a non-text part counts', 'Content-Type: application/octet-stream; charset=iso-8859-1', '\xe9', ['é']],
    ['no charset: UTF-8, invalid bytes become one U+FFFD', '', 'a\xe9\xe9c\xc3\xa9', ['a\uFFFDcé']],
    ['unknown charset: UTF-8', 'Content-Type: text/plain; charset=x-unknown', 'a\xe9b\xc3\xa9c', ['a\uFFFDbéc']],
    ['a character cut off at the end is dropped', 'Content-Type: text/plain', 'tail\xe2\x82', ['tail']],
    ['a lead byte without its followers drops them too', '', 'a\xc3\xa9b\xe9c', ['aéb']],
  ])('%s', (_name, headers, body, expected) => {
    expect(parts(`From: a@b\n${headers ? `${headers}\n` : ''}\n${body}`, all)).toEqual(expected);
  });
});

describe('htmlToText', () => {
  it.each([
    ['tags become one space, not after a blank or line feed', '<p>one</p>\n\n  <p>two</p>', 'one \n\n  two '],
    ['a tab or CR before a tag gets its space', 'a\t<b>c<i>\r\n<b>d', 'a\t c \r\nd'],
    ['title kept, style and script dropped', '<html><head><title>T</title><style>p{}</style></head><body><p>Hello&amp;<b>world</b>&eacute;</p><br>line</body></html>', 'T Hello& world é line '],
    ['entities: case-sensitive names, &#n; and &#xn;', 'A&Eacute;B&eacute;C&EACUTE;D&AMP;E&#233;F&#xE9;G&#XE9;H&bogus;I', 'AÉBéCDEéFéGHI'],
    ['broken entities keep their text', 'I&toolongentity;J & K&amp L&#65;&#x41;M', 'Itoolongentity;J  Kamp LAAM'],
    ['comments end at "-->" (not "--->"); scripts at "</script>"', '<!-- c --x> y --> after <script>s</script>z<SCRIPT >q</script >w', ' after z'],
    ['quoted ">" in attributes', '<a href="x>y" t=\'a>b\'>link</a>', 'link '],
    ['CDATA is text', '<![CDATA[raw <stuff>]]> after', 'raw <stuff> after'],
    ['a tag name cut off by the end ends the text', 'cut <b', 'cut '],
    ['an entity cut off by the end ends the text', 'cut &amp', 'cut '],
    ['a CDATA end cut off ends the text', '<![CDATA[abc]', 'abc'],
    ['a long tag name at the end is a tag', 'far <abcdefghijklmnop', 'far '],
    ['&apos; and HTML 4 symbols', '&apos;&thetasym;&alefsym;&hearts;', "'ϑℵ♥"],
  ])('%s', (_name, html, expected) => {
    expect(htmlToText(html)).toBe(expected);
  });

  it('is what :text gives for text/html and application/xhtml+xml parts', () => {
    const message =
      'Content-Type: multipart/alternative; boundary=X\n\n--X\nContent-Type: application/xhtml+xml\n\n<p>xhtml</p>\n--X\nContent-Type: TEXT/HTML\n\n<i>upper</i>\n--X\nContent-Type: text/enriched\n\n<bold>kept</bold>\n--X\nContent-Type: image/png\n\nnot text\n--X--\n';
    expect(parts(message, text)).toEqual(['xhtml ', 'upper ', '<bold>kept</bold>']);
  });
});
