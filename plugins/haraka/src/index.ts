/**
 * haraka-plugin-tinomail: Prometheus metrics of an inbound Haraka MX.
 *
 * Haraka copies this module's exports onto its Plugin object with for...in, so everything here is a plain
 * exported function and hooks get the plugin as `this`. Every hook is an observer: it calls next() with no
 * code (next(OK) from `deny` would cancel a rejection), catches its own errors, and does no I/O.
 *
 * Where values come from (Haraka 3.x):
 * - every reply goes through connection.respond(), which this plugin wraps per connection (observe, then
 *   call the original unchanged): rejections Haraka's core sends without a plugin deny, the reply to the
 *   final dot, and whether a deny really reached the client;
 * - `deny` tells which plugin, hook and code rejected; haraka-plugin-wildduck leaves txn.notes.rejectCode;
 * - reset_transaction sees each finished transaction (rcpt_count, data_bytes, data_post_delay, results of
 *   rspamd, Authentication-Results fragments); disconnect sees the connection (duration, TLS, AUTH results).
 */
import cluster from 'node:cluster';
import path from 'node:path';
import { Registry } from 'prom-client';
import { logLine, type WebLogger } from '../../../exporters/kit/web';
import { loadWebConfig, type WebConfig } from '../../../exporters/kit/webconfig';
import { ClusterCollector, answerMaster, sendFinalSnapshot } from './cluster';
import { DEFAULTS, parseConfig, type TinomailConfig } from './config';
import {
  DENY_CODES,
  STATE_DISCONNECTED,
  STATE_LOOP,
  type Connection,
  type HarakaPlugin,
  type HarakaServer,
  type Next,
  type Transaction,
} from './haraka';
import {
  BoundedLabel,
  OTHER,
  authOutcomes,
  coreRejectionReason,
  hookLabel,
  parseAuthenticationResults,
  replyStage,
  rspamdActionLabel,
  rspamdAuthResults,
  rspamdErrorReason,
  rspamdSkipReason,
  smtpCodeLabel,
  tlsLabel,
  wildduckCodeLabel,
} from './labels';
import { createMetrics, createServerMetrics, type Metrics } from './metrics';
import { MetricsServer } from './server';

export { registerMetrics } from './metrics';

const NOTE = 'tinomail';

interface PendingDeny {
  plugin: string;
  hook: string;
  code: string;
  wildduckCode?: unknown;
}

interface ConnectionState {
  port: string;
  open: boolean;
  pendingDeny?: PendingDeny;
}

interface TransactionState {
  mailAt?: number;
  dataStarted?: boolean;
  dataEndCode?: number;
  dataEndAt?: number;
}

/** One per process: Haraka loads the plugin once in the master and once in every worker. */
interface ProcessState {
  registry: Registry;
  metrics: Metrics;
  ports: BoundedLabel;
  plugins: BoundedLabel;
  log: (msg: string) => void;
  errorsLogged: number;
  server?: MetricsServer;
  collector?: ClusterCollector;
}

let proc: ProcessState | undefined;
let cfg: TinomailConfig = { ...DEFAULTS };

type Plugin = HarakaPlugin & { load_tinomail_ini(): void };

/** Runs one observation; an error is counted and logged (a few times), never thrown into Haraka. */
function guard(where: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    recordError(where, err);
  }
}

function recordError(where: string, err: unknown): void {
  try {
    proc?.metrics.pluginErrors.inc({ where });
    if (proc && proc.errorsLogged < 10) {
      proc.errorsLogged++;
      // Errors may come from another realm (plugins run in vm contexts): no instanceof.
      const text = err && typeof err === 'object' && 'message' in err ? String(err.message) : String(err);
      proc.log(`counting failed in ${where}: ${text}`);
    }
  } catch {
    // Nothing left to do: mail flow matters more than this metric.
  }
}

export function register(this: Plugin): void {
  this.load_tinomail_ini();
  if (!proc) {
    const registry = new Registry();
    proc = {
      registry,
      metrics: createMetrics(registry),
      ports: new BoundedLabel(cfg.maxPorts, /^\d{1,5}$/),
      // Haraka plugin names: 'queue/lmtp', 'rcpt_to.in_host_list'; never a ':' or '@'.
      plugins: new BoundedLabel(cfg.maxPlugins, /^[A-Za-z0-9_./-]{1,64}$/),
      log: (msg) => this.logerror(msg),
      errorsLogged: 0,
    };
  }
  const state = proc;
  if (cluster.isWorker) answerMaster(state.registry, (err) => recordError('cluster_answer', err));

  // First in the chain where an earlier plugin's OK would stop the hooks, last for deny (an earlier deny
  // hook may override the rejection with OK; then this one does not run and nothing is counted).
  this.register_hook('init_master', 'tinomail_init_master', 0);
  this.register_hook('connect_init', 'tinomail_connect_init', -100);
  this.register_hook('mail', 'tinomail_mail', -100);
  this.register_hook('deny', 'tinomail_deny', 100);
  this.register_hook('reset_transaction', 'tinomail_reset_transaction', -100);
  this.register_hook('disconnect', 'tinomail_disconnect', -100);
}

export function load_tinomail_ini(this: Plugin): void {
  const ini = this.config.get('tinomail.ini', { booleans: [] }, () => this.load_tinomail_ini());
  cfg = parseConfig(ini);
}

/** Starts /metrics in the process that does not handle SMTP in cluster mode, or the only one with nodes=0. */
export function tinomail_init_master(this: Plugin, next: Next, server: HarakaServer): void {
  try {
    startMetrics(this, server);
  } catch (err) {
    // No metrics is bad; no mail would be worse. Haraka keeps running.
    this.logerror(`metrics not served: ${errorText(err)}`);
  }
  next();
}

function errorText(err: unknown): string {
  return err && typeof err === 'object' && 'message' in err ? String(err.message) : String(err);
}

/** A relative web_config_file is relative to Haraka's config directory (haraka -c <dir>: <dir>/config), as tinomail.ini. */
function configPath(plugin: Plugin, file: string): string {
  // A package plugin's own config.root_path is its package's config/ (the defaults), not Haraka's.
  const cfgApi = plugin.config as { overrides_path?: unknown; root_path?: unknown };
  const dir = process.env.HARAKA ? path.join(process.env.HARAKA, 'config') : String(cfgApi.overrides_path ?? cfgApi.root_path ?? '.');
  return path.resolve(dir, file);
}

function startMetrics(plugin: Plugin, server: HarakaServer): void {
  const state = proc;
  if (!state || state.server) return;
  // A web config that cannot work means no /metrics at all: never serve unprotected what should be protected.
  let webConfig: WebConfig = {};
  if (cfg.webConfigFile) {
    try {
      webConfig = loadWebConfig(configPath(plugin, cfg.webConfigFile));
    } catch (err) {
      plugin.logerror(`tinomail.ini [server] web_config_file: ${errorText(err)}; /metrics is not served`);
      return;
    }
  }
  const clustered = !!server?.cluster;
  const serverRegistry = new Registry();
  const serverMetrics = createServerMetrics(serverRegistry);
  if (clustered) state.collector = new ClusterCollector(cluster, cfg.workerTimeoutSeconds * 1000);
  const collector = state.collector;
  let workers = { answered: 0, stale: 0 };

  const metricsServer = new MetricsServer({
    contentType: state.registry.contentType,
    async render() {
      if (!collector) return state.registry.metrics();
      const scrape = await collector.collect();
      workers = { answered: scrape.answered, stale: scrape.stale };
      serverMetrics.workers.set({ state: 'answered' }, scrape.answered);
      serverMetrics.workers.set({ state: 'stale' }, scrape.stale);
      return (await scrape.registry.metrics()) + (await serverRegistry.metrics());
    },
    state: () => [
      ['Mode', clustered ? 'cluster: the master serves the sum of its workers' : 'single process (nodes=0)'],
      ...(clustered ? [['Workers at the last scrape', `${workers.answered} answered, ${workers.stale} stale`] as [string, string]] : []),
    ],
  });
  state.server = metricsServer;
  const listen = cfg.listen;
  const log: WebLogger = {
    debug: (msg, fields) => plugin.logdebug(logLine(msg, fields)),
    info: (msg, fields) => plugin.loginfo(logLine(msg, fields)),
    warn: (msg, fields) => plugin.logwarn(logLine(msg, fields)),
    error: (msg, fields) => plugin.logerror(logLine(msg, fields)),
  };
  metricsServer.start(listen, webConfig, log).then(
    (started) => {
      plugin.lognotice(`metrics listening on ${started.url}/metrics (${clustered ? 'cluster sum' : 'single process'})`);
    },
    (err: unknown) => {
      plugin.logerror(`cannot listen on ${listen}: ${errorText(err)}`);
      state.server = undefined;
    },
  );
}


function connectionState(connection: Connection): ConnectionState | undefined {
  return connection.notes[NOTE] as ConnectionState | undefined;
}

function transactionState(txn: Transaction): TransactionState {
  let st = txn.notes[NOTE] as TransactionState | undefined;
  if (!st) {
    st = {};
    txn.notes[NOTE] = st;
  }
  return st;
}

export function tinomail_connect_init(this: Plugin, next: Next, connection: Connection): void {
  guard('connect_init', () => {
    const state = proc!;
    // connect_init runs again after a PROXY line; the connection is already counted.
    if (connectionState(connection)) return;
    const port = state.ports.value(connection.local?.port, 'unknown');
    const st: ConnectionState = { port, open: true };
    connection.notes[NOTE] = st;
    state.metrics.connections.inc({ port });
    state.metrics.connectionsActive.inc({ port });
    observeReplies(connection);
  });
  next();
}

export function tinomail_mail(this: Plugin, next: Next, connection: Connection): void {
  guard('mail', () => {
    if (connection.transaction) transactionState(connection.transaction).mailAt = Date.now();
  });
  next();
}

export function tinomail_deny(this: Plugin, next: Next, connection: Connection, params: unknown[]): void {
  guard('deny', () => {
    const st = connectionState(connection);
    if (!st || !Array.isArray(params)) return;
    const plugin = typeof params[2] === 'string' ? params[2] : '';
    st.pendingDeny = {
      plugin: proc!.plugins.value(plugin, 'unknown'),
      hook: hookLabel(params[5]),
      code: DENY_CODES[Number(params[0])] ?? OTHER,
      wildduckCode: plugin === 'wildduck' ? connection.transaction?.notes.rejectCode : undefined,
    };
  });
  next();
}

export function tinomail_reset_transaction(this: Plugin, next: Next, connection: Connection): void {
  guard('reset_transaction', () => {
    const txn = connection.transaction;
    if (txn) countTransaction(proc!.metrics, txn);
  });
  next();
}

export function tinomail_disconnect(this: Plugin, next: Next, connection: Connection): void {
  guard('disconnect', () => {
    const m = proc!.metrics;
    const st = connectionState(connection);
    if (!st?.open) return;
    st.open = false;
    m.connectionsActive.dec({ port: st.port });
    const seconds = (Date.now() - Number(connection.start_time)) / 1000;
    const tls = tlsLabel(!!connection.tls?.enabled, connection.tls?.cipher?.version);
    if (seconds >= 0) m.connectionDuration.observe({ port: st.port, tls }, seconds);
    for (const a of authOutcomes(connection.results?.get('auth'))) m.authAttempts.inc(a);
  });
  next();
}

export function shutdown(this: Plugin): void {
  const state = proc;
  if (!state) return;
  if (cluster.isWorker) {
    guard('shutdown', () => sendFinalSnapshot(state.registry));
    return;
  }
  guard('shutdown', () => {
    state.collector?.stop();
    state.collector = undefined;
    state.server?.stop().catch(() => undefined);
    state.server = undefined;
  });
}

/** Everything a finished transaction tells; runs once per transaction, in reset_transaction. */
function countTransaction(m: Metrics, txn: Transaction): void {
  m.transactions.inc();
  const rc = txn.rcpt_count;
  if (rc) {
    if (rc.accept > 0) m.recipients.labels('accept').inc(rc.accept);
    if (rc.tempfail > 0) m.recipients.labels('tempfail').inc(rc.tempfail);
    if (rc.reject > 0) m.recipients.labels('reject').inc(rc.reject);
  }

  const st = txn.notes[NOTE] as TransactionState | undefined;
  if (st?.dataStarted) {
    if (st.dataEndCode === undefined) {
      m.messages.labels('aborted').inc();
    } else {
      const code = st.dataEndCode;
      m.messages.labels(code < 400 ? 'accept' : code < 500 ? 'tempfail' : 'reject').inc();
      if (typeof txn.data_bytes === 'number' && txn.data_bytes >= 0) m.messageSize.observe(txn.data_bytes);
      if (rc) m.messageRecipients.observe(rc.accept);
      if (code < 400 && st.mailAt !== undefined && st.dataEndAt !== undefined) {
        m.mailToQueued.observe(Math.max(0, (st.dataEndAt - st.mailAt) / 1000));
      }
    }
  }
  // data_post_delay starts at 0 in every transaction: only those that reached data_post have one.
  if (typeof txn.data_post_start === 'number' && typeof txn.data_post_delay === 'number' && txn.data_post_delay >= 0) {
    m.dataPostDelay.observe(txn.data_post_delay);
  }

  for (const r of parseAuthenticationResults(txn.notes.authentication_results)) {
    m.senderAuthentication.inc({ method: r.method, result: r.result, source: 'haraka' });
  }
  countRspamd(m, txn.results?.get('rspamd'));
}

/** haraka-plugin-rspamd results: {score, required_score, action, is_skipped, symbols, time, err: [], skip: []}. */
function countRspamd(m: Metrics, r: Record<string, unknown> | undefined): void {
  if (!r) return;
  const errors = Array.isArray(r.err) ? r.err : [];
  for (const e of errors) m.rspamdErrors.inc({ reason: rspamdErrorReason(e) });
  const skips = Array.isArray(r.skip) ? r.skip : [];
  for (const s of skips) m.rspamdSkips.inc({ reason: rspamdSkipReason(s) });
  if (r.is_skipped === true) m.rspamdSkips.inc({ reason: 'rspamd' });
  if (typeof r.score === 'number' && Number.isFinite(r.score)) {
    m.rspamdScore.observe(r.score);
    m.rspamdActions.inc({ action: rspamdActionLabel(r.action) });
    if (typeof r.time === 'number' && r.time >= 0) m.rspamdScanDuration.observe(r.time);
    for (const a of rspamdAuthResults(r.symbols)) m.senderAuthentication.inc({ method: a.method, result: a.result, source: 'rspamd' });
  }
}

function isDsn(msg: unknown): msg is { code?: unknown; reply?: unknown } {
  return !!msg && typeof msg === 'object' && (msg as { constructor?: { name?: string } }).constructor?.name === 'DSN';
}

function replyText(msg: unknown): string {
  if (isDsn(msg)) return String(msg.reply ?? '');
  return Array.isArray(msg) ? msg.join(' ') : String(msg ?? '');
}

/**
 * Wraps this connection's respond() to look at each reply before Haraka's own respond() sends it,
 * unchanged. Looking before matters: respond() runs its callback (often reset_transaction) synchronously.
 */
function observeReplies(connection: Connection): void {
  const original = connection.respond;
  if (typeof original !== 'function') return;
  connection.respond = function respond(this: Connection, code, msg, func) {
    try {
      countReply(connection, code, msg);
    } catch (err) {
      recordError('respond', err);
    }
    return original.call(this, code, msg, func);
  };
}

/** Runs for every reply Haraka sends: the common 2xx/3xx path does as little as it can. */
function countReply(connection: Connection, rawCode: unknown, msg: unknown): void {
  if (connection.state === STATE_DISCONNECTED) return; // Haraka sends nothing then
  const st = connectionState(connection);
  const pending = st?.pendingDeny;
  if (pending) st.pendingDeny = undefined; // a deny belongs to the reply that follows it
  // A DSN object carries its own code (connection.respond does the same override).
  const code = Number(isDsn(msg) ? msg.code : rawCode);
  const dataEnd = !!connection.awaiting_data_reply;

  const txn = connection.transaction;
  if (txn && (code === 354 || dataEnd)) {
    const ts = transactionState(txn);
    if (code === 354) ts.dataStarted = true;
    if (dataEnd) {
      ts.dataEndCode = code;
      ts.dataEndAt = Date.now();
    }
  }

  if (!(code >= 400)) return;
  const m = proc!.metrics;
  if (pending) {
    m.pluginRejections.inc({ plugin: pending.plugin, hook: pending.hook, code: pending.code });
    if (pending.wildduckCode) m.wildduckRejections.inc({ reject_code: wildduckCodeLabel(pending.wildduckCode) });
    return;
  }
  // After a connect-time deny Haraka answers every command with the same reply (LOOP): counted once, above.
  if (connection.state === STATE_LOOP) return;
  const stage = replyStage(connection.current_line, dataEnd, typeof connection.notes.auth_method === 'string');
  m.coreRejections.inc({ stage, reason: coreRejectionReason(stage, code, replyText(msg)), smtp_code: smtpCodeLabel(code) });
}
