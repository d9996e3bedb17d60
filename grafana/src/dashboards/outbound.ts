/** Outbound: ZoneMTA per sending zone, sending IP and destination; deferrals, bounce categories, the queue. */
import { type DashboardSpec, HOST, hostVariables, stat, timeseries, ZONE, zoneVariable } from '../lib';

const H = HOST;
const Z = ZONE;
const RI = '$__rate_interval';

export const outbound: DashboardSpec = {
  uid: 'tinomail-outbound',
  title: 'Mail / Outbound (ZoneMTA)',
  description:
    'Outbound delivery by ZoneMTA: attempts per sending zone, sending IP and destination, deferrals and bounce categories, the queue in MongoDB, and rspamd\'s verdicts on submitted mail. Fed by the zonemta-tinomail plugin, the mongodb exporter and ZoneMTA\'s own /metrics.',
  variables: [
    ...hostVariables('{__name__=~"zonemta_tinomail_info|zonemta_queue_size|mongodb_zonemta_queue_recipients"}'),
    zoneVariable('zonemta_tinomail_deliveries_total|mongodb_zonemta_queue_recipients'),
  ],
  rows: [
    {
      title: 'Now',
      panels: [
        stat({
          title: 'Delivered per minute',
          description: 'Recipients the remote MX accepted per minute over the last 5 minutes (zonemta-tinomail, outcome accepted).',
          unit: 'mpm',
          queries: [{ expr: `sum(rate(zonemta_tinomail_deliveries_total{outcome="accepted", ${H}, ${Z}}[5m])) * 60` }],
        }),
        stat({
          title: 'Failed attempts',
          description:
            'Share of delivery attempts of the last 15 minutes that were deferred or rejected. A sudden rise usually means one destination or one sending IP is refused: see the panels by sending IP and destination.',
          unit: 'percentunit',
          warnAt: 0.1,
          criticalAt: 0.3,
          queries: [
            {
              expr: `sum(rate(zonemta_tinomail_deliveries_total{outcome=~"deferred|rejected", ${H}, ${Z}}[15m])) / sum(rate(zonemta_tinomail_deliveries_total{${H}, ${Z}}[15m]))`,
            },
          ],
        }),
        stat({
          title: 'Recipients in queue',
          description: 'Recipients waiting in the ZoneMTA queue (MongoDB zone-queue collection): due, deferred and being delivered, all zones chosen.',
          unit: 'short',
          queries: [{ expr: `sum(mongodb_zonemta_queue_recipients{${H}, ${Z}})` }],
        }),
        stat({
          title: 'Oldest recipient in queue',
          description: 'Age of the oldest recipient still in the queue, across the zones chosen. Mail older than a few hours is stuck or being deferred again and again.',
          unit: 's',
          warnAt: 3600,
          criticalAt: 86400,
          alerts: ['TinomailQueueOldestMessageTooOld'],
          queries: [{ expr: `max(mongodb_zonemta_queue_oldest_age_seconds{${H}, ${Z}})` }],
        }),
      ],
    },
    {
      title: 'Delivery attempts',
      panels: [
        timeseries({
          title: 'Delivery attempts by zone and outcome',
          description: 'Delivery attempts per minute by sending zone and outcome (accepted, deferred, rejected), counted by the zonemta-tinomail plugin across all ZoneMTA processes.',
          unit: 'mpm',
          queries: [{ expr: `sum by (zone, outcome) (rate(zonemta_tinomail_deliveries_total{${H}, ${Z}}[${RI}])) * 60`, legend: '{{zone}} {{outcome}}' }],
        }),
        timeseries({
          title: 'Failed share by zone',
          description: 'Share of attempts deferred or rejected, per sending zone. One zone far above the others points at its sending IPs (blocklisted, rate limited) rather than at the destinations.',
          unit: 'percentunit',
          min: 0,
          max: 1,
          queries: [
            {
              expr: `sum by (zone) (rate(zonemta_tinomail_deliveries_total{outcome=~"deferred|rejected", ${H}, ${Z}}[${RI}])) / sum by (zone) (rate(zonemta_tinomail_deliveries_total{${H}, ${Z}}[${RI}]))`,
              legend: '{{zone}}',
            },
          ],
        }),
        timeseries({
          title: 'Attempts by sending IP',
          description: 'Delivery attempts per minute by sending IP (the local address ZoneMTA sent from) and outcome. A sending IP with many deferrals or rejections is likely listed on a blocklist.',
          unit: 'mpm',
          queries: [{ expr: `sum by (sending_ip, outcome) (rate(zonemta_tinomail_deliveries_total{${H}, ${Z}}[${RI}])) * 60`, legend: '{{sending_ip}} {{outcome}}' }],
        }),
        timeseries({
          title: 'Failed share by sending IP',
          description: 'Share of attempts from each sending IP that were deferred or rejected over 15 minutes (recording rule of the sending IP alert). Above 30% the IP is likely blocklisted or throttled by the big providers.',
          unit: 'percentunit',
          min: 0,
          max: 1,
          alerts: ['TinomailSendingIPHighFailureRatio'],
          queries: [
            {
              expr: `max by (zone, sending_ip) (zone_sending_ip:zonemta_tinomail_deliveries_failed:ratio_rate15m{${H}, ${Z}})`,
              legend: '{{zone}} {{sending_ip}}',
            },
          ],
        }),
        timeseries({
          title: 'Attempts by destination',
          description: 'Delivery attempts per minute by destination group (large providers by name, the rest as other) and outcome, ten busiest series.',
          unit: 'mpm',
          alerts: ['TinomailDestinationHighFailureRatio'],
          queries: [{ expr: `topk(10, sum by (destination, outcome) (rate(zonemta_tinomail_deliveries_total{${H}, ${Z}}[${RI}]))) * 60`, legend: '{{destination}} {{outcome}}' }],
        }),
        timeseries({
          title: 'Refusals by destination and status',
          description: 'Deferred and rejected attempts per minute by destination group and enhanced status class (for example 4.7 = policy, 5.1 = bad address), ten busiest series.',
          unit: 'mpm',
          queries: [
            {
              expr: `topk(10, sum by (destination, enhanced_status) (rate(zonemta_tinomail_smtp_responses_total{outcome!="accepted", ${H}}[${RI}]))) * 60`,
              legend: '{{destination}} {{enhanced_status}}',
            },
          ],
        }),
        timeseries({
          title: 'Bounce categories',
          description: 'Deferred and rejected attempts per minute by ZoneMTA bounce category (blacklist, spam, recipient, dns, network, ...). blacklist and spam mean the remote side refuses our mail.',
          unit: 'mpm',
          queries: [{ expr: `sum by (category, outcome) (rate(zonemta_tinomail_delivery_failures_total{${H}}[${RI}])) * 60`, legend: '{{category}} {{outcome}}' }],
        }),
        timeseries({
          title: 'Deferrals by attempt number',
          description: 'Deferrals per minute by how many times that recipient had been deferred (1 = first deferral). Growth in high attempt numbers means mail is being retried without success and will bounce.',
          unit: 'mpm',
          queries: [{ expr: `sum by (attempt) (rate(zonemta_tinomail_deferrals_total{${H}, ${Z}}[${RI}])) * 60`, legend: 'attempt {{attempt}}' }],
        }),
        timeseries({
          title: 'Transmission time (95th percentile)',
          description: 'Time to transmit one message to the remote MX (ZoneMTA log timer), 95th percentile by zone and outcome.',
          unit: 's',
          queries: [
            {
              expr: `histogram_quantile(0.95, sum by (le, zone, outcome) (rate(zonemta_tinomail_delivery_duration_seconds_bucket{${H}, ${Z}}[${RI}])))`,
              legend: '{{zone}} {{outcome}}',
            },
          ],
        }),
        timeseries({
          title: 'TLS of delivery attempts',
          description: 'Attempts that reached an MX per minute, by TLS version (none = plain text) and whether the certificate was verified.',
          unit: 'mpm',
          queries: [
            { expr: `sum by (tls_version, cert_verified) (rate(zonemta_tinomail_delivery_tls_total{${H}, ${Z}}[${RI}])) * 60`, legend: '{{tls_version}} verified={{cert_verified}}' },
          ],
        }),
        timeseries({
          title: 'TLS handshake failures',
          description: 'Failed TLS handshakes with remote MX per minute by zone and mode (starttls or tls); ZoneMTA falls back or defers.',
          unit: 'mpm',
          alerts: ['TinomailOutboundTLSErrors'],
          queries: [{ expr: `sum by (zone, mode) (rate(zonemta_tinomail_tls_errors_total{${H}, ${Z}}[${RI}])) * 60`, legend: '{{zone}} {{mode}}' }],
        }),
        timeseries({
          title: 'ZoneMTA native delivery status',
          description: "ZoneMTA's own /metrics counter zonemta_delivery_status by status and zone, per minute: a cross-check of the plugin's counts.",
          unit: 'mpm',
          alerts: ['TinomailOutboundDeliveriesStopped'],
          queries: [{ expr: `sum by (zone, status) (rate(zonemta_delivery_status{${H}, ${Z}}[${RI}])) * 60`, legend: '{{zone}} {{status}}' }],
        }),
      ],
    },
    {
      title: 'Queue',
      panels: [
        timeseries({
          title: 'Queue by zone and state',
          description: 'Recipients in the ZoneMTA queue per zone: queued (due, waiting for a sender), deferred (waiting for a retry), locked (being delivered). Read from MongoDB by the mongodb exporter.',
          unit: 'short',
          stacked: true,
          alerts: ['TinomailDeferredQueueGrowing'],
          queries: [{ expr: `sum by (zone, state) (mongodb_zonemta_queue_recipients{${H}, ${Z}})`, legend: '{{zone}} {{state}}' }],
        }),
        timeseries({
          title: 'Oldest recipient by zone',
          description: 'Age of the oldest recipient in each zone\'s queue. Steady growth while the queue is not empty means the zone is not delivering.',
          unit: 's',
          alerts: ['TinomailQueueOldestMessageTooOld'],
          queries: [{ expr: `max by (zone) (mongodb_zonemta_queue_oldest_age_seconds{${H}, ${Z}})`, legend: '{{zone}}' }],
        }),
        timeseries({
          title: 'Time in queue (95th and 50th percentile)',
          description: 'Time from queueing a recipient to its final outcome (accepted or rejected) by zone. First-try deliveries take seconds; deferred mail can take days until it bounces.',
          unit: 's',
          queries: [
            { expr: `histogram_quantile(0.95, sum by (le, zone) (rate(zonemta_tinomail_queue_time_seconds_bucket{${H}, ${Z}}[${RI}])))`, legend: '{{zone}} p95' },
            { expr: `histogram_quantile(0.5, sum by (le, zone) (rate(zonemta_tinomail_queue_time_seconds_bucket{${H}, ${Z}}[${RI}])))`, legend: '{{zone}} p50' },
          ],
        }),
        timeseries({
          title: 'Most deferrals of a waiting recipient',
          description: 'Highest deferral count among recipients still in each zone\'s queue: how long the worst recipient has been retried.',
          unit: 'short',
          queries: [{ expr: `max by (zone) (mongodb_zonemta_queue_deferrals_max{${H}, ${Z}})`, legend: '{{zone}}' }],
        }),
        timeseries({
          title: 'ZoneMTA native queue size',
          description: "ZoneMTA's own zonemta_queue_size (whole queue, no zone): every ZoneMTA sharing the MongoDB reports the same total, so the highest value is shown.",
          unit: 'short',
          alerts: ['TinomailOutboundDeliveriesStopped'],
          queries: [{ expr: `max by (type) (zonemta_queue_size{${H}})`, legend: '{{type}}' }],
        }),
        timeseries({
          title: 'Messages queued, refused and dropped',
          description: 'Messages accepted into the queue by source interface, refused before queueing (NOQUEUE) by reason, and dropped without delivery, per minute; submissions ZoneMTA itself could not queue (its native zonemta_message_push, result fail).',
          unit: 'mpm',
          alerts: ['TinomailSubmissionRefused', 'TinomailSubmissionFailing'],
          queries: [
            { expr: `sum(rate(zonemta_message_push{result="fail", ${H}}[${RI}])) * 60`, legend: 'could not be queued' },
            { expr: `sum by (interface) (rate(zonemta_tinomail_messages_queued_total{${H}}[${RI}])) * 60`, legend: 'queued {{interface}}' },
            { expr: `sum by (reason) (rate(zonemta_tinomail_messages_noqueue_total{${H}}[${RI}])) * 60`, legend: 'refused {{reason}}' },
            { expr: `sum by (reason) (rate(zonemta_tinomail_messages_dropped_total{${H}}[${RI}])) * 60`, legend: 'dropped {{reason}}' },
          ],
        }),
        timeseries({
          title: 'Bounces generated',
          description: 'Bounce messages ZoneMTA generated per minute, by type (failure, delayed). Many failures at once usually follow a blocklisting.',
          unit: 'mpm',
          queries: [{ expr: `sum by (type) (rate(zonemta_tinomail_bounces_generated_total{${H}}[${RI}])) * 60`, legend: '{{type}}' }],
        }),
        timeseries({
          title: 'Suppression list',
          description: 'Addresses and domains on the ZoneMTA suppression list; mail to them is dropped.',
          unit: 'short',
          queries: [{ expr: `max(mongodb_zonemta_suppression_list_entries{${H}})`, legend: 'entries' }],
        }),
      ],
    },
    {
      title: 'Outbound spam (rspamd)',
      panels: [
        timeseries({
          title: 'Outbound spam verdicts',
          description:
            "Messages submitted to ZoneMTA that its core/rspamd plugin had scanned, per minute by rspamd action (no action, greylist, add header, rewrite subject, soft reject, reject). A sudden band of reject or add header is an account sending spam: reject is refused or dropped, the rest goes out. Empty when core/rspamd is not enabled in ZoneMTA.",
          unit: 'mpm',
          stacked: true,
          alerts: ['TinomailOutboundSpamSurge'],
          queries: [{ expr: `sum by (action) (rate(zonemta_tinomail_spam_checks_total{${H}}[${RI}])) * 60`, legend: '{{action}}' }],
        }),
        timeseries({
          title: 'Outbound spam score (median and 95th percentile)',
          description: "Rspamd score of the messages ZoneMTA had scanned (SPAMCHECK score). Rspamd's default thresholds: greylist 4, add header 6, reject 15.",
          unit: 'short',
          queries: [
            { expr: `histogram_quantile(0.5, sum by (le) (rate(zonemta_tinomail_spam_score_bucket{${H}}[${RI}])))`, legend: 'p50' },
            { expr: `histogram_quantile(0.95, sum by (le) (rate(zonemta_tinomail_spam_score_bucket{${H}}[${RI}])))`, legend: 'p95' },
          ],
        }),
      ],
    },
    {
      title: 'Plugin health',
      panels: [
        stat({
          title: 'Log receiver',
          description: 'Whether the plugin\'s UDP receiver for log.remote is listening (1). At 0 the counts of receiver and sender processes are missing.',
          unit: 'bool',
          criticalBelow: 1,
          alerts: ['TinomailZoneMTALogReceiverDown'],
          queries: [{ expr: `min(zonemta_tinomail_log_receiver_up{${H}})` }],
        }),
        timeseries({
          title: 'Log entries by action',
          description: 'ZoneMTA log entries the plugin counted per minute, by action (QUEUED, ACCEPTED, DEFERRED, ...): shows log.remote delivering from every process.',
          unit: 'mpm',
          queries: [{ expr: `sum by (action) (rate(zonemta_tinomail_log_entries_total{${H}}[${RI}])) * 60`, legend: '{{action}}' }],
        }),
        timeseries({
          title: 'Plugin errors',
          description: 'Log datagrams the kernel dropped (receive buffer full: counts are missing), malformed datagrams dropped, and errors caught in the plugin hooks, per minute. Delivery goes on either way.',
          unit: 'cpm',
          queries: [
            { expr: `sum(rate(zonemta_tinomail_log_receiver_drops_total{${H}}[${RI}])) * 60`, legend: 'datagrams dropped by the kernel' },
            { expr: `sum(rate(zonemta_tinomail_log_datagrams_malformed_total{${H}}[${RI}])) * 60`, legend: 'malformed datagrams' },
            { expr: `sum by (hook) (rate(zonemta_tinomail_hook_errors_total{${H}}[${RI}])) * 60`, legend: 'hook {{hook}}' },
          ],
        }),
      ],
    },
  ],
};
