/**
 * `npm run demo` runs the real mail suite (scripts/demo/realsuite.ts). startDemo() here is the lighter demo: the suite
 * working on a machine without WildDuck or ZoneMTA. It runs a real Haraka with
 * haraka-plugin-tinomail, the ZoneMTA plugin loaded by ZoneMTA's own plugin loader and fed through log.remote,
 * every exporter, redis-server and Prometheus with the shipped rules when they are installed; sends synthetic
 * traffic (SMTP, GELF from real clients, ZoneMTA log entries, WildDuck's Redis keys, DMARC and TLS-RPT report
 * files); prints where to look; and
 * stops everything on Ctrl-C. test/grafana/queries.test.ts starts the same thing to check every dashboard query.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { exporters } from '../exporters/index';
import { createLogger, type Logger, silentLogger } from '../exporters/kit/log';
import { type RunningExporter, runExporter } from '../exporters/kit/run';
import { HARAKA_PLUGIN_DIR, type RunningHaraka, startHaraka } from './demo/haraka';
import { type Child, freePort, httpOk, startChild, waitFor, which } from './demo/processes';
import { type RunningPrometheus, startPrometheus, writePrometheusConfig } from './demo/prometheus';
import { describeRealDemo, firingAlerts, startRealDemo } from './demo/realsuite';
import { DEMO_OWN_NETWORK, Traffic } from './demo/traffic';

const REPO = join(__dirname, '..');
const PLUGINS_PATH = join(REPO, 'plugins');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PluginHandler = require('@zone-eu/wild-plugins') as new (options: Record<string, unknown>) => { load(done: () => void): void };

export interface DemoOptions {
  /** 'default': the ports of docs/ports.md where they are free; 'free': ports the kernel picks (tests). */
  ports?: 'default' | 'free';
  /** Prometheus scrape and rule evaluation interval. */
  scrapeInterval?: string;
  /** A round of traffic this often; 0 for none (the caller runs traffic.once()). */
  trafficEveryMs?: number;
  /** Start Prometheus when /usr/bin/prometheus (or one on PATH) is installed. */
  prometheus?: boolean;
  /** Extra flags per exporter, e.g. { wildduck: ['--wildduck.url=http://127.0.0.1:1234'] }. */
  exporterFlags?: Record<string, string[]>;
  /** Where the exporters log (default: errors only, to stderr). */
  log?: Logger;
}

export interface Demo {
  /** Scrape targets by Prometheus job name (prometheus/prometheus.yml). */
  targets: Record<string, string[]>;
  prometheusUrl?: string;
  smtpPort?: number;
  /** Parts that could not run here, and why. */
  skipped: string[];
  traffic: Traffic;
  stop(): Promise<void>;
}

/** Flags the demo gives an exporter, when the exporter has them. */
function demoFlags(name: string, ctx: { gelfPort: number; redisPort?: number; fast: boolean; dir: string }): string[] {
  const flags: Record<string, string[]> = {
    gelf: [`--gelf.listen-address=127.0.0.1:${ctx.gelfPort}`],
    redis: ctx.redisPort ? [`--redis.uri=redis://127.0.0.1:${ctx.redisPort}/3`, `--redis.scan-interval=${ctx.fast ? '1s' : '10s'}`] : [],
    mongodb: ['--mongodb.connect-timeout=500ms'],
    reports: [`--reports.dir=${join(ctx.dir, 'reports')}`, `--reports.state-file=${join(ctx.dir, 'reports-state.json')}`, `--reports.own-networks=${DEMO_OWN_NETWORK}`, `--reports.interval=${ctx.fast ? '1s' : '10s'}`],
  };
  return flags[name] ?? [];
}

export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const fixed = opts.ports !== 'free';
  const port = (preferred: number) => freePort(fixed ? preferred : 0);
  const dir = mkdtempSync(join(tmpdir(), 'tinomail-demo-'));
  const stops: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await Promise.resolve(s()).catch(() => undefined);
  };
  const targets: Record<string, string[]> = {};
  const skipped: string[] = [];
  const address = (url: string) => new URL(url).host;

  try {
    // redis-server, when installed: the redis exporter watches it and the traffic writes WildDuck's keys into it.
    let redis: Redis | undefined;
    let redisPort: number | undefined;
    const redisServer = which('redis-server');
    if (redisServer) {
      redisPort = await freePort(0); // never a real Redis on 6379
      const child: Child = startChild('redis-server', redisServer, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory', '64mb', '--maxmemory-policy', 'noeviction']);
      stops.push(() => child.stop());
      await waitFor(child, 'ready line', () => /Ready to accept connections/.test(child.output()));
      redis = new Redis({ port: redisPort, host: '127.0.0.1', db: 3, lazyConnect: true });
      await redis.connect();
      stops.push(() => void redis!.disconnect());
    } else {
      skipped.push('redis-server is not installed (apt-get install redis-server): the redis exporter reports redis_up 0');
    }

    // Haraka with the plugin.
    let haraka: RunningHaraka | undefined;
    if (existsSync(join(HARAKA_PLUGIN_DIR, 'dist', 'index.js'))) {
      haraka = await startHaraka(join(dir, 'haraka'), fixed ? 2525 : 0, fixed ? 9746 : 0);
      stops.push(() => new Promise<void>((resolve) => haraka!.rspamd.close(() => resolve())));
      stops.push(() => haraka!.child.stop());
      targets.haraka = [address(haraka.metricsUrl)];
    } else {
      skipped.push('plugins/haraka is not built (npm run build): no Haraka');
    }

    // The ZoneMTA plugin's master part (HTTP /metrics and the log.remote receiver), loaded as ZoneMTA loads it.
    const zonemtaPort = await port(9747);
    const zonemtaLogPort = await port(9748);
    const quiet = { info() {}, verbose() {}, error: (...args: unknown[]) => (opts.log ?? silentLogger).error(String(args[1] ?? args[0])) };
    const master = new PluginHandler({
      logger: quiet,
      context: 'main',
      pluginsPath: PLUGINS_PATH,
      plugins: { zonemta: { enabled: ['main', 'sender', 'receiver'], listen: `127.0.0.1:${zonemtaPort}`, logListen: `127.0.0.1:${zonemtaLogPort}` } },
      log: { remote: { protocol: 'udp4', host: '127.0.0.1', port: zonemtaLogPort } },
    });
    await new Promise<void>((resolve) => master.load(resolve));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    stops.push(() => (require(join(PLUGINS_PATH, 'zonemta')) as { stop(): Promise<void> }).stop());
    if (!(await httpOk(`http://127.0.0.1:${zonemtaPort}/metrics`).catch(() => false))) {
      throw new Error('the ZoneMTA plugin did not start: is plugins/zonemta built (npm run build)?');
    }
    targets['zonemta-tinomail'] = [`127.0.0.1:${zonemtaPort}`];

    // Every exporter of this repository (the reports exporter reads the files the traffic drops into reports/).
    mkdirSync(join(dir, 'reports'));
    const gelfPort = await port(12201);
    const log = opts.log ?? createLogger({ level: 'error' });
    for (const def of exporters) {
      const listen = await port(def.defaultPort);
      const own = new Set(def.flags.map((f) => f.name));
      const flags = [...demoFlags(def.name, { gelfPort, redisPort, fast: !fixed, dir }), ...(opts.exporterFlags?.[def.name] ?? [])].filter((f) => own.has(f.slice(2, f.indexOf('='))));
      const running: RunningExporter = await runExporter(def, [`--web.listen-address=127.0.0.1:${listen}`, ...flags], { log, env: {} });
      stops.push(() => running.stop());
      targets[`${def.name}-exporter`] = [address(running.url)];
    }

    const traffic = new Traffic({
      reportsDir: join(dir, 'reports'),
      smtpPort: haraka?.smtpPort,
      gelfPort: exporters.some((e) => e.name === 'gelf') ? gelfPort : undefined,
      zonemtaLogPort,
      redis,
    });
    await traffic.start(PLUGINS_PATH);
    stops.push(() => traffic.stop());

    // Prometheus with the shipped rules, scraping all of the above.
    let prometheus: RunningPrometheus | undefined;
    const prometheusBinary = which('prometheus');
    if (opts.prometheus !== false && prometheusBinary) {
      const promPort = await port(9090);
      targets.prometheus = [`127.0.0.1:${promPort}`];
      writePrometheusConfig(join(dir, 'prometheus'), targets, opts.scrapeInterval ?? '5s');
      prometheus = await startPrometheus(prometheusBinary, join(dir, 'prometheus'), promPort, Object.values(targets).flat().length);
      stops.push(() => prometheus!.child.stop());
    } else if (opts.prometheus !== false) {
      skipped.push('prometheus is not installed (apt-get install prometheus): scrape the /metrics addresses yourself');
    }

    if (opts.trafficEveryMs) {
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        traffic.once().finally(() => (busy = false));
      }, opts.trafficEveryMs);
      stops.push(() => clearInterval(timer));
    }
    return { targets, prometheusUrl: prometheus?.url, smtpPort: haraka?.smtpPort, skipped, traffic, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

if (require.main === module) {
  // `npm run demo`: the real mail suite with traffic (scripts/demo/realsuite.ts). startDemo() above is the lighter
  // demo without WildDuck and ZoneMTA that test/grafana/queries.test.ts runs.
  startRealDemo().then(
    (demo) => {
      process.stdout.write(describeRealDemo(demo));
      const prometheusUrl = demo.suite.prometheus?.url;
      const report = prometheusUrl
        ? setInterval(() => {
            firingAlerts(prometheusUrl).then(
              (alerts) => process.stdout.write(`${new Date().toISOString()} firing: ${alerts.length ? alerts.join('; ') : 'none'}\n`),
              () => undefined,
            );
          }, 30_000)
        : undefined;
      let stopping = false;
      const shutdown = () => {
        if (stopping) process.exit(1); // a second Ctrl-C: do not wait
        stopping = true;
        if (report) clearInterval(report);
        process.stdout.write('\nstopping...\n');
        demo.stop().then(() => process.exit(0));
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    },
    (err: Error) => {
      process.stderr.write(`demo: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
