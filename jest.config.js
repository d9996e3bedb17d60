/** Tests run TypeScript through esbuild (fast, no type check: `npm run typecheck` does that). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': '<rootDir>/test/esbuild-transform.js' },
  testTimeout: 30000,
  // Warms rspamd's Hyperscan cache once, before the real-suite tests start it (test/global-setup.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  // Names whatever a test left open, and exits, if jest is still running 30 s after the tests (test/global-teardown.ts).
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // No forceExit: every test stops what it started, even when it fails, so jest exits by itself; an open handle
  // left behind is a bug to fix, not to hide.
};
