/** Inbound: Haraka (the tinomail plugin), Rspamd, and the MX log events haraka-plugin-wildduck sends as GELF. */
import { type DashboardSpec, HOST, hostVariables, stat, timeseries } from '../lib';

const H = HOST;
const RI = '$__rate_interval';

export const inbound: DashboardSpec = {
  uid: 'tinomail-inbound',
  title: 'Mail / Inbound (Haraka, Rspamd, MX)',
  description:
    'Inbound mail at the MX: SMTP connections, recipients and messages as Haraka answers them (haraka-plugin-tinomail), rejections by plugin and reason, Rspamd verdicts, and what haraka-plugin-wildduck logged over GELF (stored, unknown users, over quota, rate limits).',
  variables: [...hostVariables('{__name__=~"haraka_connections_total|gelf_messages_total|rspamd_scanned_total"}')],
  rows: [
    {
      title: 'Now',
      panels: [
        stat({
          title: 'Messages accepted per minute',
          description: 'Messages Haraka accepted with a 2xx reply to the final dot, per minute over the last 5 minutes.',
          unit: 'mpm',
          alerts: ['TinomailMXAcceptingNothing'],
          queries: [{ expr: `sum(rate(haraka_messages_total{result="accept", ${H}}[5m])) * 60` }],
        }),
        stat({
          title: 'Recipients refused',
          description: 'Share of RCPT TO of the last 15 minutes that Haraka refused (reject) or deferred (tempfail). Unknown users are normal; a jump means a check (rate limit, DNS, WildDuck) is failing.',
          unit: 'percentunit',
          warnAt: 0.3,
          criticalAt: 0.6,
          alerts: ['TinomailInboundRejectionSpike'],
          queries: [{ expr: `sum(rate(haraka_recipients_total{result=~"reject|tempfail", ${H}}[15m])) / sum(rate(haraka_recipients_total{${H}}[15m]))` }],
        }),
        stat({
          title: 'Open SMTP connections',
          description: 'SMTP connections open now on every Haraka worker.',
          unit: 'short',
          queries: [{ expr: `sum(haraka_connections_active{${H}})` }],
        }),
        stat({
          title: 'Store failures (15 min)',
          description: 'Accepted messages the MX failed to store into a mailbox in the last 15 minutes (GELF, haraka-plugin-wildduck); the sender is asked to retry. Usually MongoDB trouble.',
          unit: 'short',
          warnAt: 1,
          criticalAt: 10,
          alerts: ['TinomailMXStoreFailures'],
          queries: [{ expr: `sum(increase(gelf_mx_store_failures_total{${H}}[15m]))` }],
        }),
      ],
    },
    {
      title: 'SMTP (Haraka)',
      panels: [
        timeseries({
          title: 'Connections by port',
          description: 'SMTP connections accepted per second by local port (25 for MX, 587/465 for submission when Haraka serves them).',
          unit: 'cps',
          queries: [{ expr: `sum by (port) (rate(haraka_connections_total{${H}}[${RI}]))`, legend: 'port {{port}}' }],
        }),
        timeseries({
          title: 'Open connections by port',
          description: 'SMTP connections open now by local port, summed over Haraka workers.',
          unit: 'short',
          queries: [{ expr: `sum by (port) (haraka_connections_active{${H}})`, legend: 'port {{port}}' }],
        }),
        timeseries({
          title: 'Recipients by result',
          description: "RCPT TO per minute as Haraka answered them: accept, tempfail (4xx), reject (5xx). Haraka's own counts, so they include refusals no plugin logs.",
          unit: 'mpm',
          stacked: true,
          alerts: ['TinomailInboundRejectionSpike'],
          queries: [{ expr: `sum by (result) (rate(haraka_recipients_total{${H}}[${RI}])) * 60`, legend: '{{result}}' }],
        }),
        timeseries({
          title: 'Messages by result',
          description: 'Messages per minute by the reply to the final dot (accept, tempfail, reject), and aborted when the client left during DATA.',
          unit: 'mpm',
          stacked: true,
          queries: [{ expr: `sum by (result) (rate(haraka_messages_total{${H}}[${RI}])) * 60`, legend: '{{result}}' }],
        }),
        timeseries({
          title: 'Rejections by plugin',
          description: 'Replies sent because a Haraka plugin denied, per minute, by plugin and code (902 DENY, 903 DENYSOFT, ...), ten busiest.',
          unit: 'cpm',
          queries: [{ expr: `topk(10, sum by (plugin, code) (rate(haraka_plugin_rejections_total{${H}}[${RI}]))) * 60`, legend: '{{plugin}} {{code}}' }],
        }),
        timeseries({
          title: 'Rejections by Haraka itself',
          description: 'Replies of 400 and above that Haraka sent without a plugin deny (no plugin accepted the recipient, size limit, syntax, queue declined) by stage and reason, per minute.',
          unit: 'cpm',
          queries: [{ expr: `sum by (stage, reason) (rate(haraka_core_rejections_total{${H}}[${RI}])) * 60`, legend: '{{stage}} {{reason}}' }],
        }),
        timeseries({
          title: 'WildDuck rejections by reason',
          description: 'Rejections by haraka-plugin-wildduck per minute by its reject code: NO_SUCH_USER, MBOX_FULL, RATE_LIMIT, DMARC policy, ...',
          unit: 'cpm',
          queries: [{ expr: `sum by (reject_code) (rate(haraka_wildduck_rejections_total{${H}}[${RI}])) * 60`, legend: '{{reject_code}}' }],
        }),
        timeseries({
          title: 'Message size (median and 95th percentile)',
          description: 'Size of messages received up to the final dot.',
          unit: 'bytes',
          queries: [
            { expr: `histogram_quantile(0.5, sum by (le) (rate(haraka_message_size_bytes_bucket{${H}}[${RI}])))`, legend: 'p50' },
            { expr: `histogram_quantile(0.95, sum by (le) (rate(haraka_message_size_bytes_bucket{${H}}[${RI}])))`, legend: 'p95' },
          ],
        }),
        timeseries({
          title: 'MAIL FROM to queued (95th percentile)',
          description: 'Time from MAIL FROM to the reply that queued the message, and how long the content filters (data_post hooks, Rspamd) took, 95th percentile.',
          unit: 's',
          queries: [
            { expr: `histogram_quantile(0.95, sum by (le) (rate(haraka_mail_from_to_queued_seconds_bucket{${H}}[${RI}])))`, legend: 'MAIL FROM to queued' },
            { expr: `histogram_quantile(0.95, sum by (le) (rate(haraka_data_post_delay_seconds_bucket{${H}}[${RI}])))`, legend: 'data_post hooks' },
          ],
        }),
        timeseries({
          title: 'SPF, DKIM and DMARC',
          description: 'Sender authentication results per minute by method and result (pass, fail, none, ...), from Authentication-Results or Rspamd symbols.',
          unit: 'cpm',
          queries: [{ expr: `sum by (method, result) (rate(haraka_sender_authentication_total{${H}}[${RI}])) * 60`, legend: '{{method}} {{result}}' }],
        }),
        timeseries({
          title: 'SMTP AUTH attempts',
          description: 'SMTP AUTH attempts on Haraka per minute by method and result. Failures climbing steadily is password guessing.',
          unit: 'cpm',
          queries: [{ expr: `sum by (method, result) (rate(haraka_auth_attempts_total{${H}}[${RI}])) * 60`, legend: '{{method}} {{result}}' }],
        }),
        timeseries({
          title: 'Haraka workers and plugin errors',
          description: 'Haraka worker processes that answered the last scrape (stale = no answer in time, last values used) and errors caught inside the tinomail plugin per minute.',
          unit: 'short',
          queries: [
            { expr: `sum by (state) (haraka_cluster_workers{${H}})`, legend: 'workers {{state}}' },
            { expr: `sum by (where) (rate(haraka_tinomail_errors_total{${H}}[${RI}])) * 60`, legend: 'plugin errors/min {{where}}' },
          ],
        }),
      ],
    },
    {
      title: 'Rspamd',
      panels: [
        timeseries({
          title: 'Rspamd actions',
          description: 'Rspamd verdicts per minute on mail scanned for Haraka, by action (no action, greylist, add header, rewrite subject, soft reject, reject).',
          unit: 'mpm',
          stacked: true,
          queries: [{ expr: `sum by (action) (rate(haraka_rspamd_actions_total{${H}}[${RI}])) * 60`, legend: '{{action}}' }],
        }),
        timeseries({
          title: 'Rspamd score (median and 95th percentile)',
          description: 'Spam score of scanned messages as Rspamd returned it to Haraka.',
          unit: 'short',
          queries: [
            { expr: `histogram_quantile(0.5, sum by (le) (rate(haraka_rspamd_score_bucket{${H}}[${RI}])))`, legend: 'p50' },
            { expr: `histogram_quantile(0.95, sum by (le) (rate(haraka_rspamd_score_bucket{${H}}[${RI}])))`, legend: 'p95' },
          ],
        }),
        timeseries({
          title: 'Rspamd scan time (95th percentile)',
          description: 'How long Haraka waited for Rspamd per message, 95th percentile. Close to the plugin timeout means mail is accepted unscanned.',
          unit: 's',
          queries: [{ expr: `histogram_quantile(0.95, sum by (le) (rate(haraka_rspamd_scan_duration_seconds_bucket{${H}}[${RI}])))`, legend: 'p95' }],
        }),
        timeseries({
          title: 'Rspamd failures and skips',
          description: 'Scans that failed (timeout, connection, parse) and messages not scanned (authenticated, relay, local IP; rspamd: Rspamd skipped it), per minute. Failed scans and Rspamd skips let mail through unscanned.',
          unit: 'cpm',
          alerts: ['TinomailMXMailUnscanned'],
          queries: [
            { expr: `sum by (reason) (rate(haraka_rspamd_errors_total{${H}}[${RI}])) * 60`, legend: 'error {{reason}}' },
            { expr: `sum by (reason) (rate(haraka_rspamd_skips_total{${H}}[${RI}])) * 60`, legend: 'skipped {{reason}}' },
          ],
        }),
        timeseries({
          title: 'Rspamd native: scanned, spam and ham',
          description: "Rspamd controller's own /metrics: messages scanned per minute, and those it classed as spam or ham (all clients, not only Haraka).",
          unit: 'mpm',
          queries: [
            { expr: `sum(rate(rspamd_scanned_total{${H}}[${RI}])) * 60`, legend: 'scanned' },
            { expr: `sum(rate(rspamd_spam_total{${H}}[${RI}])) * 60`, legend: 'spam' },
            { expr: `sum(rate(rspamd_ham_total{${H}}[${RI}])) * 60`, legend: 'ham' },
          ],
        }),
        timeseries({
          title: 'Rspamd native: actions',
          description: "Rspamd controller's own counter of actions per minute, by type.",
          unit: 'mpm',
          queries: [{ expr: `sum by (type) (rate(rspamd_actions_total{${H}}[${RI}])) * 60`, legend: '{{type}}' }],
        }),
      ],
    },
    {
      title: 'MX log events (GELF from haraka-plugin-wildduck)',
      panels: [
        timeseries({
          title: 'Recipients accepted and refused',
          description: 'What haraka-plugin-wildduck logged at RCPT TO, per minute: accepted, unknown user, over quota, and every refusal by reject code.',
          unit: 'cpm',
          queries: [
            { expr: `sum(rate(gelf_mx_recipients_accepted_total{${H}}[${RI}])) * 60`, legend: 'accepted' },
            { expr: `sum(rate(gelf_mx_recipients_unknown_total{${H}}[${RI}])) * 60`, legend: 'unknown user' },
            { expr: `sum(rate(gelf_mx_recipients_over_quota_total{${H}}[${RI}])) * 60`, legend: 'over quota' },
            { expr: `sum by (code) (rate(gelf_mx_recipients_rejected_total{${H}}[${RI}])) * 60`, legend: 'refused {{code}}' },
          ],
        }),
        timeseries({
          title: 'Rate limit hits',
          description: 'Recipients deferred because a WildDuck rate limit was reached, per minute, by selector (rcpt: per recipient, rcptIp: per recipient and sender IP, user).',
          unit: 'cpm',
          queries: [{ expr: `sum by (selector) (rate(gelf_mx_rate_limit_hits_total{${H}}[${RI}])) * 60`, legend: '{{selector}}' }],
        }),
        timeseries({
          title: 'Stored into mailboxes',
          description: 'Message copies stored into a mailbox per minute (one per recipient user), and copies that failed to store.',
          unit: 'mpm',
          queries: [
            { expr: `sum(rate(gelf_mx_messages_stored_total{${H}}[${RI}])) * 60`, legend: 'stored' },
            { expr: `sum(rate(gelf_mx_store_failures_total{${H}}[${RI}])) * 60`, legend: 'failed' },
          ],
        }),
        timeseries({
          title: 'Bytes stored',
          description: 'Bytes of message copies stored into mailboxes per second.',
          unit: 'Bps',
          queries: [{ expr: `sum(rate(gelf_mx_stored_bytes_total{${H}}[${RI}]))`, legend: 'stored' }],
        }),
        timeseries({
          title: 'Spam verdicts on stored mail',
          description: 'Rspamd action of each stored message copy as the MX logged it, per minute.',
          unit: 'mpm',
          stacked: true,
          queries: [{ expr: `sum by (action) (rate(gelf_mx_spam_actions_total{${H}}[${RI}])) * 60`, legend: '{{action}}' }],
        }),
        timeseries({
          title: 'Forwards and autoreplies',
          description: 'Forwards (done, spam skipped, rate limited, failed) and autoreplies (sent, failed) per minute, from the MX and WildDuck logs.',
          unit: 'cpm',
          queries: [
            { expr: `sum by (result) (rate(gelf_forwards_total{${H}}[${RI}])) * 60`, legend: 'forward {{result}}' },
            { expr: `sum by (result) (rate(gelf_autoreplies_total{${H}}[${RI}])) * 60`, legend: 'autoreply {{result}}' },
          ],
        }),
        timeseries({
          title: 'GELF intake',
          description: 'GELF messages decoded per minute by sending component, and datagrams or frames dropped by reason. No messages from a component means its GELF settings are wrong or it is down.',
          unit: 'cpm',
          alerts: ['TinomailNoLogEvents', 'TinomailGELFDecodeErrors'],
          queries: [
            { expr: `sum by (component) (rate(gelf_messages_total{${H}}[${RI}])) * 60`, legend: '{{component}}' },
            { expr: `sum by (reason) (rate(gelf_decode_errors_total{${H}}[${RI}])) * 60`, legend: 'dropped {{reason}}' },
          ],
        }),
      ],
    },
  ],
};
