/**
 * Runs once, after all test files. Tests stop what they start, so jest exits by itself (no forceExit). Should
 * something stay open anyway (on a 2-core machine jest runs every file in band, in its own process, so a handle
 * any file leaves keeps jest alive),
 * this says what is left and ends the process with the tests' own result, so that CI is not left waiting.
 */
const GRACE_MS = 30_000;

export default function globalTeardown(): void {
  setTimeout(() => {
    console.error(`jest did not exit ${GRACE_MS / 1000} s after the tests; still open: ${process.getActiveResourcesInfo().join(', ')}. A test left this running: a bug to find.`);
    process.exit(); // with process.exitCode, which jest sets when a test failed
  }, GRACE_MS).unref();
}
