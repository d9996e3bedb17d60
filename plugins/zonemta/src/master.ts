/**
 * What runs in ZoneMTA's master process only: the UDP log receiver and the HTTP /metrics server
 * (`app.addAPI()` routes 404 in the plugin loader ZoneMTA ships, so the plugin serves its own port).
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Registry } from 'prom-client';
import { pluginRoutes } from '../../../exporters/kit/landing';
import { logLine, startWebServer, type WebLogger, type WebServer } from '../../../exporters/kit/web';
import type { WebConfig } from '../../../exporters/kit/webconfig';
import { formatAddress, type Address } from './config';
import { VERSION } from './version';
import type { LogIngest } from './ingest';
import type { Metrics } from './metrics';

export interface PluginLogger {
  info(prefix: string, message: string, ...args: unknown[]): void;
  warn?(prefix: string, message: string, ...args: unknown[]): void;
  error(prefix: string, message: string, ...args: unknown[]): void;
}

const LOG_PREFIX = 'Tinomail';

/** Binds the UDP receiver; a failure to bind is logged and shown as log_receiver_up 0, never thrown. */
export function startLogReceiver(
  address: Address,
  receiveBufferBytes: number,
  ingest: LogIngest,
  metrics: Metrics,
  logger: PluginLogger,
): Promise<Socket> {
  const socket = createSocket({ type: isIP(address.host) === 6 ? 'udp6' : 'udp4' });
  metrics.receiverUp.set(0);
  socket.on('message', payload => {
    try {
      ingest.datagram(payload);
    } catch {
      metrics.malformed.inc(); // nothing a datagram carries may throw into ZoneMTA
    }
  });
  return new Promise(resolve => {
    socket.once('listening', () => {
      try {
        socket.setRecvBufferSize(receiveBufferBytes);
      } catch {
        // the kernel caps it at net.core.rmem_max; the default buffer still works
      }
      metrics.receiverUp.set(1);
      const bound = socket.address();
      metrics.receiverDropsSource.read = () => kernelDrops(bound.port, bound.family === 'IPv6' ? '/proc/net/udp6' : '/proc/net/udp');
      logger.info(LOG_PREFIX, 'log receiver listening on udp %s:%s', bound.address, bound.port);
      resolve(socket);
    });
    socket.on('error', err => {
      metrics.receiverUp.set(0);
      logger.error(LOG_PREFIX, 'log receiver on udp %s:%s failed: %s', address.host, address.port, err.message);
      resolve(socket);
    });
    socket.bind(address.port, address.host || undefined);
    socket.unref();
  });
}

/** A ZoneMTA logger as the kit's web server logs (npmlog has warn; a bare test logger may not). */
function webLogger(logger: PluginLogger): WebLogger {
  return {
    debug: () => undefined,
    info: (msg, fields) => logger.info(LOG_PREFIX, '%s', logLine(msg, fields)),
    warn: (msg, fields) => (logger.warn ?? logger.error).call(logger, LOG_PREFIX, '%s', logLine(msg, fields)),
    error: (msg, fields) => logger.error(LOG_PREFIX, '%s', logLine(msg, fields)),
  };
}

/**
 * Serves /metrics (and a landing page) from the plugin's registry through the kit's web server: TLS, client
 * certificates and basic auth from the web config. A failure to listen is logged and resolves undefined,
 * never thrown; a failing scrape answers 500 and ZoneMTA goes on.
 */
export async function startMetricsServer(
  address: Address,
  registry: Registry,
  logger: PluginLogger,
  webConfig: WebConfig = {},
  state: () => Array<[string, string]> = () => [],
): Promise<WebServer | undefined> {
  try {
    const web = await startWebServer({
      address: formatAddress(address),
      webConfig,
      log: webLogger(logger),
      routes: pluginRoutes({
        contentType: registry.contentType,
        render: () => registry.metrics(),
        page: () => ({
          title: 'zonemta-tinomail',
          description: 'Outbound delivery of every ZoneMTA process, counted in the master (ZoneMTA plugin).',
          rows: state(),
          version: VERSION,
        }),
      }),
    });
    logger.info(LOG_PREFIX, 'metrics on %s %s', web.url.startsWith('https') ? 'https' : 'http', `${web.url.replace(/^https?:\/\//, '')}/metrics`);
    return web;
  } catch (err) {
    logger.error(LOG_PREFIX, 'metrics server on %s failed: %s', formatAddress(address), (err as Error).message);
    return undefined;
  }
}

/**
 * The `drops` column of the socket bound to `port` (Linux). UDP has no backpressure: when bursts from many
 * processes fill the receive buffer, entries are lost there, and this is the only place that says so.
 */
export async function kernelDrops(port: number, table: string): Promise<number | undefined> {
  const text = await readFile(table, 'utf8').catch(() => '');
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let drops: number | undefined;
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13 || fields[1]?.split(':')[1] !== hexPort || fields[3] !== '07') continue; // 07: bound, unconnected
    drops = (drops ?? 0) + Number(fields[fields.length - 1]);
  }
  return drops;
}
