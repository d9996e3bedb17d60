/**
 * Runs once, before all test files. rspamd's first start on a machine compiles its Hyperscan databases (15 s idle,
 * far more with both cores busy) and caches them (test/realsuite/rspamd.ts); done here, every real-suite test that
 * starts rspamd later gets the cached databases, and no test pays the compile within its start-up limit.
 */
import { existsSync } from 'node:fs';
import { startRealSuite, suiteInstalled } from './realsuite/harness';
import { RSPAMD } from './realsuite/rspamd';

export default async function globalSetup(): Promise<void> {
  if (!existsSync(RSPAMD) || suiteInstalled()) return; // the tests that need them say what is missing
  const suite = await startRealSuite({ services: ['rspamd'] });
  await suite.close();
}
