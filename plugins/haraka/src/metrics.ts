/**
 * Every metric of the plugin, created on a registry given by the caller. Each Haraka process (master and
 * cluster workers) holds one such registry; the master serves their sum. Gauges say how they combine
 * across workers (`aggregator`), counters and histograms are summed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The package version (package.json sits one level above both src/ and dist/). */
function pluginVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const SIZE_BUCKETS_BYTES = [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 10485760, 26214400, 52428800];
const RECIPIENT_BUCKETS = [1, 2, 3, 5, 10, 20, 50, 100];
const CONNECTION_BUCKETS_SECONDS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const TRANSACTION_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const FILTER_BUCKETS_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SPAM_SCORE_BUCKETS = [-10, -5, -2, 0, 2, 4, 6, 8, 10, 15, 20, 30, 50];

export function createMetrics(registry: Registry) {
  const registers = [registry];
  const info = new Gauge({
    name: 'haraka_tinomail_info',
    help: 'Version of the haraka-plugin-tinomail plugin; always 1.',
    labelNames: ['version'] as const,
    aggregator: 'first',
    registers,
  });
  info.set({ version: pluginVersion() }, 1);
  return {
    info,
    connections: new Counter({
      name: 'haraka_connections_total',
      help: 'SMTP connections accepted, by local (listening) port.',
      labelNames: ['port'] as const,
      registers,
    }),
    connectionsActive: new Gauge({
      name: 'haraka_connections_active',
      help: 'SMTP connections open now, by local (listening) port.',
      labelNames: ['port'] as const,
      aggregator: 'sum',
      registers,
    }),
    connectionDuration: new Histogram({
      name: 'haraka_connection_duration_seconds',
      help: 'Duration of closed SMTP connections, by local port and TLS version (tls="none" for plain text).',
      labelNames: ['port', 'tls'] as const,
      buckets: CONNECTION_BUCKETS_SECONDS,
      registers,
    }),
    transactions: new Counter({
      name: 'haraka_transactions_total',
      help: 'SMTP transactions (MAIL FROM commands that passed the core checks), counted when they end.',
      registers,
    }),
    recipients: new Counter({
      name: 'haraka_recipients_total',
      help: 'RCPT TO outcomes as Haraka counts them (rcpt_count): accept, tempfail, reject.',
      labelNames: ['result'] as const,
      registers,
    }),
    messages: new Counter({
      name: 'haraka_messages_total',
      help: 'Messages after DATA by the reply to the final dot: accept, tempfail, reject; aborted when the client left during DATA.',
      labelNames: ['result'] as const,
      registers,
    }),
    messageSize: new Histogram({
      name: 'haraka_message_size_bytes',
      help: 'Size of messages received up to the final dot (any result), as Haraka counts data_bytes.',
      buckets: SIZE_BUCKETS_BYTES,
      registers,
    }),
    messageRecipients: new Histogram({
      name: 'haraka_message_recipients',
      help: 'Accepted recipients per message received up to the final dot.',
      buckets: RECIPIENT_BUCKETS,
      registers,
    }),
    mailToQueued: new Histogram({
      name: 'haraka_mail_from_to_queued_seconds',
      help: 'Seconds from MAIL FROM to the 2xx reply that queued the message (accepted messages only).',
      buckets: TRANSACTION_BUCKETS_SECONDS,
      registers,
    }),
    dataPostDelay: new Histogram({
      name: 'haraka_data_post_delay_seconds',
      help: 'Seconds the data_post hooks (content filters such as rspamd) took per message (transaction.data_post_delay).',
      buckets: FILTER_BUCKETS_SECONDS,
      registers,
    }),
    pluginRejections: new Counter({
      name: 'haraka_plugin_rejections_total',
      help: 'Rejections sent to the client because a plugin returned a deny code, by plugin, hook and code.',
      labelNames: ['plugin', 'hook', 'code'] as const,
      registers,
    }),
    coreRejections: new Counter({
      name: 'haraka_core_rejections_total',
      help: 'Replies >= 400 that Haraka itself sent without a plugin deny, by SMTP stage, reason and reply code.',
      labelNames: ['stage', 'reason', 'smtp_code'] as const,
      registers,
    }),
    wildduckRejections: new Counter({
      name: 'haraka_wildduck_rejections_total',
      help: 'Rejections by haraka-plugin-wildduck, by its reject code (txn.notes.rejectCode; unknown codes are other).',
      labelNames: ['reject_code'] as const,
      registers,
    }),
    rspamdScore: new Histogram({
      name: 'haraka_rspamd_score',
      help: 'Rspamd score of scanned messages (haraka-plugin-rspamd results).',
      buckets: SPAM_SCORE_BUCKETS,
      registers,
    }),
    rspamdActions: new Counter({
      name: 'haraka_rspamd_actions_total',
      help: 'Rspamd action of scanned messages (no action, greylist, add header, rewrite subject, soft reject, reject).',
      labelNames: ['action'] as const,
      registers,
    }),
    rspamdScanDuration: new Histogram({
      name: 'haraka_rspamd_scan_duration_seconds',
      help: 'Seconds haraka-plugin-rspamd waited for rspamd per scanned message.',
      buckets: FILTER_BUCKETS_SECONDS,
      registers,
    }),
    rspamdErrors: new Counter({
      name: 'haraka_rspamd_errors_total',
      help: 'Rspamd scans that failed, by reason (timeout, connection, parse, other).',
      labelNames: ['reason'] as const,
      registers,
    }),
    rspamdSkips: new Counter({
      name: 'haraka_rspamd_skips_total',
      help: 'Messages not scanned by rspamd, by reason (authed, relay, local_ip, private_ip; rspamd when rspamd skipped it).',
      labelNames: ['reason'] as const,
      registers,
    }),
    authAttempts: new Counter({
      name: 'haraka_auth_attempts_total',
      help: 'SMTP AUTH attempts by method and result (success, failure).',
      labelNames: ['method', 'result'] as const,
      registers,
    }),
    senderAuthentication: new Counter({
      name: 'haraka_sender_authentication_total',
      help: 'SPF, DKIM and DMARC results per transaction, from Authentication-Results (source="haraka") or rspamd symbols (source="rspamd").',
      labelNames: ['method', 'result', 'source'] as const,
      registers,
    }),
    pluginErrors: new Counter({
      name: 'haraka_tinomail_errors_total',
      help: 'Errors inside the tinomail plugin itself, caught and ignored so mail flow is unchanged, by where they happened.',
      labelNames: ['where'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Metrics only the serving process (cluster master, or the single process with nodes=0) has. */
export function createServerMetrics(registry: Registry) {
  return {
    workers: new Gauge({
      name: 'haraka_cluster_workers',
      help: 'Haraka worker processes in this scrape: answered, or stale (no answer in time, last values used).',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
  };
}

/** Registers every metric of the plugin on `registry` without starting anything (used to generate docs). */
export function registerMetrics(registry: Registry): void {
  createMetrics(registry);
  createServerMetrics(registry);
}
