/** Tests run TypeScript through swc (fast, no type check: `npm run typecheck` does that). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testTimeout: 30000,
  // Servers started by tests must stop by themselves; this makes a leak visible instead of hanging CI.
  forceExit: false,
};
