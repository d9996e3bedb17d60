/**
 * Runs one exporter: parses its flags, gives it a private Registry, serves `/metrics`, `/`, `/-/healthy`
 * and `/-/ready` over HTTP or HTTPS (web config), and adds `<name>_up`, `<name>_build_info` and
 * `<name>_scrape_duration_seconds`. Start and stop return promises so tests control the lifecycle.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import express from 'express';
import { Gauge, Registry } from 'prom-client';
import { CollectorTimeoutError, withDeadline } from './collectors';
import type { Exporter, ExporterDefinition } from './exporter';
import { FlagError, type FlagSpec, type FlagValues, parseAddress, parseFlags } from './flags';
import { createLogger, type LogFormat, type Logger, type LogLevel } from './log';
import { BasicAuth, loadWebConfig, type WebConfig } from './webconfig';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = require('../../package.json').version;

/** Used when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds (its own default is 10 s). */
export const DEFAULT_SCRAPE_TIMEOUT_MS = 10_000;
/** Kept back from Prometheus' timeout so the answer is rendered and sent before Prometheus gives up. */
export const SCRAPE_TIMEOUT_MARGIN_MS = 500;

/** Flags every exporter has. */
export function commonFlags(defaultPort: number): FlagSpec[] {
  return [
    { name: 'web.listen-address', type: 'address', default: `:${defaultPort}`, help: 'Address on which to expose metrics and the web interface.' },
    { name: 'web.config.file', type: 'string', default: '', help: 'Path to a web config file (exporter-toolkit format) enabling TLS and/or basic authentication.' },
    ...logFlags(),
  ];
}

export function logFlags(): FlagSpec[] {
  return [
    { name: 'log.level', type: 'enum', choices: ['debug', 'info', 'warn', 'error'], default: 'info', help: 'Only log messages with the given severity or above.' },
    { name: 'log.format', type: 'enum', choices: ['logfmt', 'json'], default: 'logfmt', help: 'Output format of log messages.' },
  ];
}

export function loggerFromFlags(flags: FlagValues): Logger {
  return createLogger({ level: flags['log.level'] as LogLevel, format: flags['log.format'] as LogFormat });
}

/** Scrape timeout from Prometheus' header, less a margin; the default when absent or nonsense. */
export function scrapeTimeoutMs(header: string | undefined): number {
  const seconds = Number(header);
  if (!header || !Number.isFinite(seconds) || seconds <= 0) return DEFAULT_SCRAPE_TIMEOUT_MS - SCRAPE_TIMEOUT_MARGIN_MS;
  const ms = seconds * 1000;
  // Keep at least half of a short timeout rather than nothing.
  return Math.max(ms - SCRAPE_TIMEOUT_MARGIN_MS, ms / 2);
}

export interface RunningExporter {
  definition: ExporterDefinition;
  /** http(s)://127.0.0.1:<port> (the loopback address even when listening on all). */
  url: string;
  port: number;
  registry: Registry;
  exporter: Exporter;
  log: Logger;
  stop(): Promise<void>;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** A logger to use instead of one built from --log.level/--log.format. */
  log?: Logger;
}

/** Parses argv (flags of this exporter plus the common ones) and starts it. Throws FlagError on bad flags. */
export async function runExporter(def: ExporterDefinition, argv: string[], opts: RunOptions = {}): Promise<RunningExporter> {
  const { values } = parseFlags(argv, [...commonFlags(def.defaultPort), ...def.flags], opts.env ?? process.env);
  return startExporter(def, values, opts.log ?? loggerFromFlags(values));
}

/** The metrics the kit adds to every exporter: `<name>_up`, `<name>_build_info`, `<name>_scrape_duration_seconds`. */
export function registerKitMetrics(name: string, registry: Registry): { up: Gauge; scrapeDuration: Gauge } {
  const up = new Gauge({
    name: `${name}_up`,
    help: `Whether the last scrape of the ${name} exporter reached its target (1) or not (0).`,
    registers: [registry],
  });
  new Gauge({
    name: `${name}_build_info`,
    help: `tinomail-monitor ${name} exporter build information; always 1.`,
    labelNames: ['version', 'nodejs_version'],
    registers: [registry],
  }).set({ version: VERSION, nodejs_version: process.version }, 1);
  const scrapeDuration = new Gauge({
    name: `${name}_scrape_duration_seconds`,
    help: `Time the ${name} exporter spent collecting during the last scrape, in seconds.`,
    registers: [registry],
  });

  return { up, scrapeDuration };
}

/** Starts an exporter from already parsed flag values (`all` uses this for each exporter). */
export async function startExporter(def: ExporterDefinition, flags: FlagValues, baseLog: Logger): Promise<RunningExporter> {
  const log = baseLog.child({ exporter: def.name });
  const webConfig = readWebConfig(String(flags['web.config.file']));
  const registry = new Registry();
  const { up, scrapeDuration } = registerKitMetrics(def.name, registry);
  const exporter = def.create({ registry, flags, log });
  await exporter.start?.();
  let started = true;

  // Concurrent scrapes share one collection: a slow target is asked once, not once per scraper.
  let inFlight: Promise<void> | undefined;
  const collect = (timeoutMs: number): Promise<void> => {
    if (inFlight) return inFlight;
    inFlight = (async () => {
      const t0 = performance.now();
      if (!exporter.scrape) {
        up.set(1);
        return;
      }
      const scrape = exporter.scrape.bind(exporter);
      try {
        const ok = await withDeadline(timeoutMs, (signal) => scrape({ timeoutMs, deadline: Date.now() + timeoutMs, signal }));
        up.set(ok ? 1 : 0);
      } catch (err) {
        up.set(0);
        if (err instanceof CollectorTimeoutError) log.warn('scrape deadline passed', { timeout_ms: timeoutMs });
        else log.warn('scrape failed', { err: (err as Error).message });
      } finally {
        scrapeDuration.set((performance.now() - t0) / 1000);
      }
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(guard(webConfig, log));
  app.get('/metrics', async (req, res) => {
    try {
      await collect(scrapeTimeoutMs(req.header('X-Prometheus-Scrape-Timeout-Seconds')));
      res.set('Content-Type', registry.contentType).send(await registry.metrics());
    } catch (err) {
      log.error('rendering metrics failed', { err: (err as Error).message });
      res.status(500).type('text/plain').send(`error rendering metrics: ${(err as Error).message}\n`);
    }
  });
  app.get('/-/healthy', (_req, res) => {
    res.type('text/plain').send('Healthy\n');
  });
  app.get('/-/ready', (_req, res) => {
    const ready = started && (exporter.ready?.() ?? true);
    res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'Ready\n' : 'Not ready\n');
  });
  app.get('/', (_req, res) => {
    res.type('html').send(landingPage(def));
  });

  const server = webConfig.tls ? https.createServer(webConfig.tls, app) : http.createServer(app);
  const { host, port } = parseAddress(String(flags['web.listen-address']));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // The web address is taken or invalid: close what start() opened before giving up.
    await exporter.stop?.();
    throw new Error(`cannot listen on ${String(flags['web.listen-address'])}: ${(err as Error).message}`);
  }
  server.on('error', (err) => log.error('http server error', { err: err.message }));
  const bound = (server.address() as AddressInfo).port;
  const scheme = webConfig.tls ? 'https' : 'http';
  const loopback = host === '::' || host === '::1' ? '[::1]' : '127.0.0.1';
  log.info('listening', { address: `${host}:${bound}`, tls: Boolean(webConfig.tls), basic_auth: Boolean(webConfig.basicAuthUsers) });

  let stopping: Promise<void> | undefined;
  return {
    definition: def,
    url: `${scheme}://${loopback}:${bound}`,
    port: bound,
    registry,
    exporter,
    log,
    stop() {
      stopping ??= (async () => {
        started = false;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await exporter.stop?.();
        log.info('stopped');
      })();
      return stopping;
    },
  };
}

/** The --web.config.file, if any; a file that cannot work is a bad value of that flag (exit 2). */
function readWebConfig(file: string): WebConfig {
  if (!file) return {};
  try {
    return loadWebConfig(file);
  } catch (err) {
    throw new FlagError(`invalid --web.config.file: ${(err as Error).message}`);
  }
}

/** Basic auth, client certificate checks the TLS layer leaves to us, and configured headers. */
function guard(config: WebConfig, log: Logger): express.RequestHandler {
  const auth = config.basicAuthUsers ? new BasicAuth(config.basicAuthUsers) : undefined;
  return (req, res, next) => {
    if (config.headers) res.set(config.headers);
    if (config.clientAuth === 'RequireAnyClientCert' || config.clientAuth === 'VerifyClientCertIfGiven') {
      const socket = req.socket as TLSSocket;
      const cert = socket.getPeerCertificate?.();
      const given = Boolean(cert && Object.keys(cert).length > 0);
      if ((config.clientAuth === 'RequireAnyClientCert' && !given) || (config.clientAuth === 'VerifyClientCertIfGiven' && given && !socket.authorized)) {
        res.status(403).type('text/plain').send('client certificate required\n');
        return;
      }
    }
    if (!auth) return next();
    auth.check(req.header('authorization')).then(
      (ok) => {
        if (ok) return next();
        log.debug('basic auth rejected', { path: req.path });
        res.status(401).set('WWW-Authenticate', 'Basic').type('text/plain').send('Unauthorized\n');
      },
      (err) => next(err),
    );
  };
}

function landingPage(def: ExporterDefinition): string {
  return `<!doctype html>
<html><head><title>tinomail-monitor ${def.name} exporter</title></head>
<body>
<h1>tinomail-monitor ${def.name} exporter</h1>
<p>${def.description}</p>
<ul>
<li><a href="metrics">Metrics</a></li>
<li><a href="-/healthy">Health</a> and <a href="-/ready">readiness</a></li>
</ul>
<p>Version ${VERSION}</p>
</body></html>
`;
}
