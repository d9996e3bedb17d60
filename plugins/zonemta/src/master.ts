/**
 * What runs in ZoneMTA's master process only: the UDP log receiver and the HTTP /metrics server
 * (`app.addAPI()` routes 404 in the plugin loader ZoneMTA ships, so the plugin serves its own port).
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Registry } from 'prom-client';
import type { Address } from './config';
import type { LogIngest } from './ingest';
import type { Metrics } from './metrics';

export interface PluginLogger {
  info(prefix: string, message: string, ...args: unknown[]): void;
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
  socket.on('message', payload => ingest.datagram(payload));
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

/** Serves GET /metrics from the plugin's registry; a failure to listen is logged, never thrown. */
export function startMetricsServer(address: Address, registry: Registry, logger: PluginLogger): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // writeHead and end apart: restify (ZoneMTA's API server) replaces writeHead process-wide with one returning nothing
      res.writeHead(405, { Allow: 'GET, HEAD' });
      res.end();
    } else if (path === '/metrics') {
      registry.metrics().then(
        body => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(body);
        },
        (err: Error) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`error: ${err.message}\n`);
        },
      );
    } else if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><body><a href="/metrics">zonemta-tinomail metrics</a></body></html>\n');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
    }
  });
  return new Promise(resolve => {
    server.once('listening', () => {
      const bound = server.address();
      logger.info(LOG_PREFIX, 'metrics on http %s', typeof bound === 'object' && bound ? `${bound.address}:${bound.port}/metrics` : bound);
      resolve(server);
    });
    server.on('error', err => {
      logger.error(LOG_PREFIX, 'metrics server on %s:%s failed: %s', address.host, address.port, err.message);
      resolve(server);
    });
    server.listen(address.port, address.host || undefined);
    server.unref();
  });
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
