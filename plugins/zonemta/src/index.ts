/**
 * zonemta-tinomail: a ZoneMTA plugin that counts outbound delivery per zone, sending IP and destination
 * across every ZoneMTA process, and serves the counts on its own /metrics port.
 *
 * Enable it in all three contexts: ["main", "sender", "receiver"]. The master owns the registry, the HTTP
 * server and a UDP receiver on loopback; ZoneMTA's `log.remote` (every process sends each log entry there)
 * feeds it. When `log.remote` points elsewhere, each process forwards its own `log:entry` instead.
 * Hooks never throw and never wait on I/O: mail flow does not depend on this plugin.
 */
import { resolve } from 'node:path';
import { Registry } from 'prom-client';
import { loadWebConfig, type WebConfig } from '../../../exporters/kit/webconfig';
import { formatAddress, parseSettings, remoteLogReachesReceiver } from './config';
import { EventForwarder } from './forwarder';
import { EVENT_HOOK_ERROR, EVENT_QUEUE_TIME, EVENT_TLS_ERROR, LogIngest, type LogEntry } from './ingest';
import { startLogReceiver, startMetricsServer, type PluginLogger } from './master';
import { createMetrics, type Metrics } from './metrics';
import { QueueTimeTracker } from './queue-time';
import { VERSION } from './version';

export { parseSettings, DEFAULTS, DEFAULT_DESTINATIONS } from './config';
export { PREFIX } from './metrics';
export { LogIngest } from './ingest';

export const title = 'Tinomail metrics';

/** The parts of ZoneMTA's plugin `app` (wild-plugins PluginInstance) this plugin uses. */
export interface ZoneMtaApp {
  config?: Record<string, unknown> | true;
  logger?: PluginLogger;
  addHook(name: string, handler: (...args: any[]) => unknown): void;
  /** The plugin definition; `log` is ZoneMTA's `log` config section. */
  options?: { log?: { remote?: { protocol?: string; host?: string | false; port?: number | string } | false } };
  /** The plugin handler; `context` is 'main', 'sender' or 'receiver'. */
  manager?: { context?: string };
}

const running = new Set<() => Promise<void>>();

/**
 * Creates every metric of the plugin on `registry` without starting anything (for docs and tests).
 * Returns the metrics so a caller can also feed them through a LogIngest.
 */
export function registerMetrics(registry: Registry): Metrics {
  return createMetrics(registry, VERSION);
}

export async function init(app: ZoneMtaApp): Promise<void> {
  const settings = parseSettings(app.config);
  const logger: PluginLogger = app.logger ?? consoleLogger;
  const context = app.manager?.context ?? 'main';
  // When ZoneMTA already sends every entry to our receiver, forwarding them again would count them twice.
  const forwardEntries = !remoteLogReachesReceiver(app.options?.log?.remote, settings.logListen);

  if (context === 'main') {
    // Refused before anything starts: ZoneMTA logs it and runs on without the plugin, never serving unprotected.
    const webConfig = readWebConfig(settings.webConfigFile);
    const registry = new Registry();
    const metrics = registerMetrics(registry);
    const ingest = new LogIngest(metrics, settings);
    const socket = await startLogReceiver(settings.logListen, settings.logReceiveBufferBytes, ingest, metrics, logger);
    const receiver = (): string => {
      try {
        const a = socket.address();
        return `udp ${a.address}:${a.port}, listening`;
      } catch {
        return `udp ${formatAddress(settings.logListen)}, not bound`;
      }
    };
    const server = await startMetricsServer(settings.listen, registry, logger, webConfig, () => [
      ['Log receiver', receiver()],
      ['log.remote', forwardEntries ? 'not pointed at the receiver: each process forwards its log:entry' : 'every process sends its entries to the receiver'],
    ]);
    running.add(async () => {
      await server?.stop();
      await new Promise<void>(resolve => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve(); // never bound
        }
      });
    });
    if (forwardEntries) {
      // log.remote does not reach the receiver: the master counts its own entries here, the others forward theirs
      app.addHook('log:entry', async (entry: LogEntry) => {
        try {
          ingest.entry(entry);
        } catch {
          metrics.hookErrors.inc({ hook: 'log:entry' });
        }
      });
    } else {
      logger.info('Tinomail', 'log.remote sends every entry to %s:%s', settings.logListen.host, settings.logListen.port);
    }
    return;
  }

  const forwarder = new EventForwarder(settings.logListen);
  const queueTimes = new QueueTimeTracker();
  running.add(async () => forwarder.close());

  const guarded = (hook: string, handler: (...args: any[]) => void) =>
    app.addHook(hook, async (...args: unknown[]) => {
      try {
        handler(...args);
      } catch {
        try {
          forwarder.send({ action: EVENT_HOOK_ERROR, hook });
        } catch {
          // nothing more can be done without risking the delivery
        }
      }
    });

  if (context !== 'sender' && !forwardEntries) return; // a receiver with log.remote set has nothing to add

  guarded('log:entry', (entry: LogEntry) => {
    if (forwardEntries) forwarder.send(entry);
    const outcome = entry.action === 'ACCEPTED' ? 'accepted' : entry.action === 'REJECTED' ? 'rejected' : undefined;
    if (outcome || entry.action === 'DEFERRED') {
      const seconds = queueTimes.finished(entry.id, entry.seq);
      if (outcome && seconds !== undefined) forwarder.send({ action: EVENT_QUEUE_TIME, outcome, zone: entry.zone, seconds });
    }
  });

  if (context === 'sender') {
    guarded('sender:fetch', (delivery: { id?: unknown; seq?: unknown; created?: unknown }) => {
      queueTimes.fetched(delivery.id, delivery.seq, delivery.created);
    });
    guarded('sender:tlserror', (delivery: { sendingZone?: unknown }, options: { secure?: unknown }) => {
      forwarder.send({ action: EVENT_TLS_ERROR, zone: delivery.sendingZone, mode: options && options.secure ? 'tls' : 'starttls' });
    });
  }
}

/** Closes every server and socket this module opened (tests; ZoneMTA itself just exits). */
export async function stop(): Promise<void> {
  const closers = [...running];
  running.clear();
  await Promise.all(closers.map(close => close()));
}

function readWebConfig(file: string): WebConfig {
  if (!file) return {};
  try {
    return loadWebConfig(resolve(file)); // relative to ZoneMTA's working directory
  } catch (err) {
    throw new Error(`zonemta-tinomail: webConfigFile: ${(err as Error).message}`);
  }
}

const consoleLogger: PluginLogger = {
  info: (prefix, message, ...args) => console.log(`${prefix} ${message}`, ...args),
  warn: (prefix, message, ...args) => console.warn(`${prefix} ${message}`, ...args),
  error: (prefix, message, ...args) => console.error(`${prefix} ${message}`, ...args),
};
