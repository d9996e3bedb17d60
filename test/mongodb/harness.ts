/**
 * Per-test lifecycle for the mongodb exporter tests: a fresh MockMongod (serverStatus of MongoDB 7.0) before
 * each test, and the exporter and the mock stopped after it.
 */
import { type Logger, silentLogger } from '../../exporters/kit/log';
import { type RunningExporter, runExporter } from '../../exporters/kit/run';
import { definition } from '../../exporters/mongodb';
import { serverStatus } from './fixtures';
import { MockMongod } from './mock-mongod';

export interface Harness {
  mongod: MockMongod;
  running?: RunningExporter;
  /** Starts the exporter against the mock (port 0, fixed flags first, then `extra`). */
  start(extra?: string[], log?: Logger): Promise<RunningExporter>;
}

export function useMockMongod(fixedFlags: string[] = []): Harness {
  const h: Harness = {
    mongod: new MockMongod(),
    async start(extra = [], log = silentLogger) {
      h.running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--mongodb.uri=${h.mongod.uri}`, ...fixedFlags, ...extra], { log, env: {} });
      return h.running;
    },
  };
  beforeEach(async () => {
    h.mongod = new MockMongod();
    h.mongod.serverStatus = () => serverStatus();
    await h.mongod.start();
  });
  afterEach(async () => {
    await h.running?.stop();
    h.running = undefined;
    await h.mongod.stop();
  });
  return h;
}
