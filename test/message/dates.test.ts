import { describe, it, expect } from 'vitest';
import { formatMessageDate } from '../../src/message/dates.js';

describe("formatMessageDate (Dovecot's message_date_create)", () => {
  it.each<[string, number, string]>([
    ['2024-12-02T09:05:01Z', 0, 'Mon, 02 Dec 2024 09:05:01 +0000'],
    ['2024-12-02T09:05:01Z', 60, 'Mon, 02 Dec 2024 10:05:01 +0100'],
    ['2024-12-02T01:05:01Z', -330, 'Sun, 01 Dec 2024 19:35:01 -0530'],
    ['2026-11-30T22:05:29Z', 0, 'Mon, 30 Nov 2026 22:05:29 +0000'],
    ['2026-12-01T00:16:55Z', 0, 'Tue, 01 Dec 2026 00:16:55 +0000'],
  ])('%s at %d minutes → %s', (iso, zone, expected) => {
    expect(formatMessageDate(new Date(iso), zone)).toBe(expected);
  });
});
