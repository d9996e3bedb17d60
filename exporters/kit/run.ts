/**
 * Runs one exporter: parses its flags, gives it a private Registry, serves `/metrics`, `/`, `/-/healthy`
 * and `/-/ready` over HTTP or HTTPS (web config), and adds `<name>_up`, `<name>_build_info` and
 * `<name>_scrape_duration_seconds`. Start and stop return promises so tests control the lifecycle.
 */
import { Gauge, Registry } from 'prom-client';
import { CollectorTimeoutError, withDeadline } from './collectors';
import type { Exporter, ExporterDefinition } from './exporter';
import { FlagError, type FlagSpec, type FlagValues, parseFlags } from './flags';
import { landingPage, upState } from './landing';
import { createLogger, type LogFormat, type Logger, type LogLevel } from './log';
import { startWebServer, type WebServer } from './web';
import { loadWebConfig, type WebConfig } from './webconfig';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = require('../../package.json').version;

/** Used when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds (its own default is 10 s). */
export const DEFAULT_SCRAPE_TIMEOUT_MS = 10_000;
/** Kept back from Prometheus' timeout so the answer is rendered and sent before Prometheus gives up. */
export const SCRAPE_TIMEOUT_MARGIN_MS = 500;

/** The default of every --web.listen-address: loopback, as everything we ship (docs/ports.md). */
export function defaultListenAddress(port: number): string {
  return `127.0.0.1:${port}`;
}

/** Flags every exporter has. */
export function commonFlags(defaultPort: number): FlagSpec[] {
  return [
    { name: 'web.listen-address', type: 'address', default: defaultListenAddress(defaultPort), help: 'Address on which to expose metrics and the web interface (":<port>" for every interface).' },
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

/**
 * The longest scrape timeout honoured. Prometheus never sends more than its scrape interval, but the header
 * is the client's word: 1e9 s would overflow a Node timer (above 2^31-1 ms it fires at once).
 */
export const MAX_SCRAPE_TIMEOUT_MS = 600_000;

/** Scrape timeout from Prometheus' header, less a margin, at most MAX_SCRAPE_TIMEOUT_MS; the default when absent or nonsense. */
export function scrapeTimeoutMs(header: string | undefined): number {
  const seconds = Number(header);
  if (!header || !Number.isFinite(seconds) || seconds <= 0) return DEFAULT_SCRAPE_TIMEOUT_MS - SCRAPE_TIMEOUT_MARGIN_MS;
  const ms = Math.min(seconds * 1000, MAX_SCRAPE_TIMEOUT_MS);
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

/** How long stop() waits for a scrape that was running to end after it was aborted. */
const STOP_GRACE_MS = 5000;

/** Resolves when `work` settles or after `ms`, whichever comes first. */
async function settledWithin(work: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!work) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
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

  let last: { up: boolean; at: Date; error?: string } | undefined;
  const onScrape = (ok: boolean, error?: string) => (last = { up: ok, at: new Date(), error });

  // Concurrent scrapes share one collection: a slow target is asked once, not once per scraper.
  let inFlight: Promise<void> | undefined;
  // The exporter's own scrape work, which can outlive the collection's deadline; stop() ends it and waits for it.
  let scrapeWork: Promise<unknown> | undefined;
  const stopped = new AbortController();
  const collect = (timeoutMs: number): Promise<void> => {
    if (inFlight) return inFlight;
    inFlight = (async () => {
      const t0 = performance.now();
      if (!exporter.scrape) {
        up.set(1);
        onScrape(true);
        return;
      }
      const scrape = exporter.scrape.bind(exporter);
      try {
        const ok = await withDeadline(timeoutMs, (signal) => {
          const work = scrape({ timeoutMs, deadline: Date.now() + timeoutMs, signal: AbortSignal.any([signal, stopped.signal]) });
          scrapeWork = work.catch(() => undefined);
          return work;
        });
        up.set(ok ? 1 : 0);
        onScrape(ok);
      } catch (err) {
        up.set(0);
        if (err instanceof CollectorTimeoutError) log.warn('scrape deadline passed', { timeout_ms: timeoutMs });
        else log.warn('scrape failed', { err: (err as Error).message });
        onScrape(false, err instanceof CollectorTimeoutError ? 'deadline passed' : (err as Error).message);
      } finally {
        scrapeDuration.set((performance.now() - t0) / 1000);
      }
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  let web: WebServer;
  try {
    web = await startWebServer({
      address: String(flags['web.listen-address']),
      webConfig,
      log,
      routes: {
        '/metrics': async (req) => {
          await collect(scrapeTimeoutMs(header(req.headers['x-prometheus-scrape-timeout-seconds'])));
          return { contentType: registry.contentType, body: await registry.metrics() };
        },
        '/-/healthy': () => ({ body: 'Healthy\n' }),
        '/-/ready': () => {
          const ready = started && (exporter.ready?.() ?? true);
          return { status: ready ? 200 : 503, body: ready ? 'Ready\n' : 'Not ready\n' };
        },
        '/': () => ({
          contentType: 'text/html; charset=utf-8',
          body: landingPage({
            title: `tinomail-monitor ${def.name} exporter`,
            description: def.description,
            rows: [...(def.target ? [['Target', def.target(flags)] as [string, string]] : []), ['State', upState(last)]],
            version: VERSION,
          }),
        }),
      },
    });
  } catch (err) {
    // The web address is taken or invalid: close what start() opened before giving up.
    await exporter.stop?.();
    throw new Error(`cannot listen on ${String(flags['web.listen-address'])}: ${(err as Error).message}`);
  }
  let stopping: Promise<void> | undefined;
  return {
    definition: def,
    url: web.url,
    port: web.port,
    registry,
    exporter,
    log,
    stop() {
      stopping ??= (async () => {
        started = false;
        await web.stop();
        // A scrape still running is told to end and waited for (a little): work it began after exporter.stop()
        // would reopen what stop() closed (the MongoDB driver reconnects a closed client on its next command).
        stopped.abort();
        await settledWithin(scrapeWork, STOP_GRACE_MS);
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

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
