/**
 * Helpers for the ZoneMTA plugin tests: load the plugin with ZoneMTA's own loader, run child processes that
 * play ZoneMTA senders and receivers, and hold them until the plugin's /metrics has counted what they sent.
 */
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import * as path from 'node:path';
import { scrapeUntil, total } from '../../helpers/exposition';
import { ensurePluginBuilt } from '../build';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const PluginHandler = require('@zone-eu/wild-plugins');

export const REPO = path.resolve(__dirname, '../../..');
/** ZoneMTA resolves a non-"modules/" plugin key against its pluginsPath: `plugins/zonemta` is the package folder. */
export const PLUGINS_PATH = path.join(REPO, 'plugins');
export const FIXTURE = path.join(__dirname, 'fixtures', 'zonemta-process.cjs');

ensurePluginBuilt('zonemta');
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const plugin = require(path.join(PLUGINS_PATH, 'zonemta')) as typeof import('../../../plugins/zonemta/src/index');

export interface LoadedPlugin {
  handler: any;
  /** http://127.0.0.1:<port>/metrics, read from the plugin's own startup log line. */
  metricsUrl: string;
  logPort: number;
  infos: unknown[][];
  errors: unknown[][];
}

/** A UDP port that was free a moment ago (the plugin's remote mode needs the port before it starts). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address();
  await new Promise<void>(resolve => socket.close(() => resolve()));
  return port;
}

/** Loads the plugin in `context` exactly as ZoneMTA's lib/plugins.js does, with `config` as its plugin section. */
export async function loadPlugin(
  context: 'main' | 'sender' | 'receiver',
  config: Record<string, unknown>,
  log: Record<string, unknown> = {},
): Promise<LoadedPlugin> {
  const infos: unknown[][] = [];
  const errors: unknown[][] = [];
  const logger = {
    info: (...args: unknown[]) => infos.push(args),
    verbose: () => undefined,
    error: (...args: unknown[]) => errors.push(args),
  };
  const handler = new PluginHandler({
    logger,
    context,
    pluginsPath: PLUGINS_PATH,
    plugins: { zonemta: { enabled: ['main', 'sender', 'receiver'], listen: '127.0.0.1:0', logListen: '127.0.0.1:0', ...config } },
    log,
  });
  await new Promise<void>(resolve => handler.load(() => resolve()));
  const line = (start: string) => infos.find(args => args[0] === 'Tinomail' && String(args[1]).startsWith(start));
  const http = line('metrics on');
  const udp = line('log receiver listening');
  return {
    handler,
    metricsUrl: http ? `${String(http[2])}://${String(http[3])}` : '',
    logPort: udp ? Number(udp[3]) : 0,
    infos,
    errors,
  };
}

export interface ChildOptions {
  role: 'sender' | 'receiver';
  index: number;
  iterations: number;
  logPort: number;
  remote: boolean;
  chaos?: boolean;
}

/**
 * Runs one fixture process to its end; resolves with the counts it reports. Each time it reports progress
 * (log entries sent so far) it waits until `gate(entriesSent)` resolves.
 */
export function runChild(opts: ChildOptions, gate: (entriesSent: number) => Promise<void>): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = fork(FIXTURE, [JSON.stringify({ ...opts, pluginsPath: PLUGINS_PATH })], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let result: Record<string, number> | undefined;
    child.stderr!.on('data', chunk => (stderr += chunk));
    child.on('message', (message: { progress?: number; done?: Record<string, number> }) => {
      if (message.done) result = message.done;
      else if (message.progress !== undefined) gate(message.progress).then(() => child.connected && child.send('go'), reject);
    });
    child.on('error', reject);
    child.on('exit', code => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`${opts.role} ${opts.index} exited with ${code}: ${stderr}`));
    });
  });
}

/**
 * A gate for runChild: lets a child go on once the master's /metrics counts at least every log entry the
 * children have reported so far.
 */
export function countedGate(metricsUrl: string): (index: number) => (entriesSent: number) => Promise<void> {
  const sent = new Map<number, number>();
  return index => async entriesSent => {
    sent.set(index, entriesSent);
    const expected = [...sent.values()].reduce((a, b) => a + b, 0);
    await scrapeUntil(metricsUrl, m => total(m, 'zonemta_tinomail_log_entries_total') >= expected, 5000, 2);
  };
}
