import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests spawn bin/dovetail and dovecot-lda; a busy CI machine needs headroom.
    testTimeout: 30_000,
  },
});
