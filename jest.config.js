/** Tests run TypeScript through esbuild (fast, no type check: `npm run typecheck` does that). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': '<rootDir>/test/esbuild-transform.js' },
  testTimeout: 30000,
  // Tests stop their own servers; a test that fails half way may not. Locally jest then says so and waits;
  // in CI it exits, so one failure cannot hang the run.
  forceExit: process.env.CI === 'true',
};
