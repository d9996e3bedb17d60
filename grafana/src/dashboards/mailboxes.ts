/** Mailboxes and IMAP: WildDuck's native metrics, account aggregates from the wildduck exporter, authentication. */
import { type DashboardSpec, HOST, hostVariables, stat, table, timeseries } from '../lib';

const H = HOST;
const RI = '$__rate_interval';

export const mailboxes: DashboardSpec = {
  uid: 'tinomail-mailboxes',
  title: 'Mail / Mailboxes and IMAP (WildDuck)',
  description:
    "WildDuck: its services and protocol traffic from its own /metrics ([metrics] enabled = true), account and storage aggregates from the wildduck exporter (REST API), and logins from WildDuck's GELF logs and Redis.",
  variables: [...hostVariables('{__name__=~"wildduck_info|wildduck_users|gelf_auth_attempts_total|redis_wildduck_imap_connections"}')],
  rows: [
    {
      title: 'Now',
      panels: [
        stat({
          title: 'WildDuck API health',
          description: 'GET /health of the WildDuck API at the last scrape: 1 healthy. At 0 see the failure reason panel (DB down, Redis not writeable, ...).',
          unit: 'bool',
          criticalBelow: 1,
          alerts: ['TinomailWildDuckHealthFailing'],
          queries: [{ expr: `min(1 - max by (instance) (wildduck_health_failure{${H}}))` }],
        }),
        stat({
          title: 'IMAP connections',
          description: 'IMAP connections open now, from WildDuck\'s native gauge.',
          unit: 'short',
          queries: [{ expr: `sum(wildduck_connections{service="imap", ${H}})` }],
        }),
        stat({
          title: 'Users',
          description: 'Users in WildDuck, from the last background crawl of the REST API.',
          unit: 'short',
          queries: [{ expr: `max(wildduck_users{${H}})` }],
        }),
        stat({
          title: 'Users at 90% of quota or more',
          description: 'Users whose storage used is at least 90% of their quota; they will soon refuse incoming mail (MBOX_FULL).',
          unit: 'short',
          warnAt: 1,
          queries: [{ expr: `max(wildduck_users_quota_use_at_least{ratio="0.9", ${H}})` }],
        }),
      ],
    },
    {
      title: 'WildDuck services (native /metrics)',
      panels: [
        table({
          title: 'Services started',
          description: 'wildduck_service_up per WildDuck service (imap, pop3, lmtp, api, ...): 1 when the service started. A 0 means that protocol is not served.',
          unit: 'bool',
          height: 6,
          queries: [{ expr: `min by (instance, service) (wildduck_service_up{${H}})` }],
        }),
        timeseries({
          title: 'Open connections by service',
          description: 'Protocol connections open now by service (imap, pop3, lmtp, ...).',
          unit: 'short',
          queries: [{ expr: `sum by (service) (wildduck_connections{${H}})`, legend: '{{service}}' }],
        }),
        timeseries({
          title: 'New connections by service',
          description: 'Protocol connections accepted per second by service and whether TLS was used from the start.',
          unit: 'cps',
          queries: [{ expr: `sum by (service, secure) (rate(wildduck_connections_total{${H}}[${RI}]))`, legend: '{{service}} secure={{secure}}' }],
        }),
        timeseries({
          title: 'IMAP commands',
          description: 'IMAP commands per second by command and result, ten busiest.',
          unit: 'ops',
          queries: [{ expr: `topk(10, sum by (command, result) (rate(wildduck_imap_commands_total{${H}}[${RI}])))`, legend: '{{command}} {{result}}' }],
        }),
        timeseries({
          title: 'IMAP command time (95th percentile)',
          description: 'IMAP command duration, 95th percentile by command, five slowest. Slow FETCH and SEARCH usually mean MongoDB is slow.',
          unit: 's',
          queries: [
            {
              expr: `topk(5, histogram_quantile(0.95, sum by (le, command) (rate(wildduck_imap_command_duration_seconds_bucket{${H}}[${RI}]))))`,
              legend: '{{command}}',
            },
          ],
        }),
        timeseries({
          title: 'LMTP and message operations',
          description: 'LMTP messages delivered per minute by result, and message operations (store, move, delete, ...) by operation and result.',
          unit: 'cpm',
          queries: [
            { expr: `sum by (result) (rate(wildduck_lmtp_messages_total{${H}}[${RI}])) * 60`, legend: 'lmtp {{result}}' },
            { expr: `topk(10, sum by (operation, result) (rate(wildduck_message_operations_total{${H}}[${RI}]))) * 60`, legend: '{{operation}} {{result}}' },
          ],
        }),
        timeseries({
          title: 'API requests by status',
          description: 'WildDuck REST API requests per second by HTTP status. Many 5xx mean the API fails its callers (webmail, admin tools, the wildduck exporter).',
          unit: 'reqps',
          queries: [{ expr: `sum by (status) (rate(wildduck_api_requests_total{${H}}[${RI}]))`, legend: '{{status}}' }],
        }),
        timeseries({
          title: 'API latency (95th percentile)',
          description: 'WildDuck REST API request duration, 95th percentile by route, five slowest.',
          unit: 's',
          queries: [
            {
              expr: `topk(5, histogram_quantile(0.95, sum by (le, route) (rate(wildduck_api_request_duration_seconds_bucket{${H}}[${RI}]))))`,
              legend: '{{route}}',
            },
          ],
        }),
        timeseries({
          title: 'Background work',
          description: 'WildDuck tasks by type and status, and BullMQ jobs by queue and state (waiting, active, failed, ...). Growing waiting counts mean workers do not keep up.',
          unit: 'short',
          queries: [
            { expr: `sum by (type, status) (wildduck_tasks{${H}})`, legend: 'task {{type}} {{status}}' },
            { expr: `sum by (queue, state) (wildduck_bullmq_jobs{${H}})`, legend: 'bullmq {{queue}} {{state}}' },
          ],
        }),
        timeseries({
          title: 'Webhook posts',
          description: 'Webhook posts per minute by result and HTTP status class.',
          unit: 'cpm',
          queries: [{ expr: `sum by (result, status_class) (rate(wildduck_webhook_posts_total{${H}}[${RI}])) * 60`, legend: '{{result}} {{status_class}}' }],
        }),
      ],
    },
    {
      title: 'Accounts and storage (wildduck exporter)',
      panels: [
        timeseries({
          title: 'Users by state',
          description: 'All users, and those disabled, suspended, not activated, with 2FA or with an autoreply, from the last background crawl of the REST API.',
          unit: 'short',
          queries: [
            { expr: `max(wildduck_users{${H}})`, legend: 'all' },
            { expr: `max(wildduck_users_disabled{${H}})`, legend: 'disabled' },
            { expr: `max(wildduck_users_suspended{${H}})`, legend: 'suspended' },
            { expr: `max(wildduck_users_not_activated{${H}})`, legend: 'not activated' },
            { expr: `max(wildduck_users_2fa_enabled{${H}})`, legend: '2FA' },
            { expr: `max(wildduck_users_autoreply_enabled{${H}})`, legend: 'autoreply on' },
          ],
        }),
        timeseries({
          title: 'Storage used and quota allowed',
          description: 'Storage used by all users, and the sum of their quotas (a quota of 0 counts as the global default).',
          unit: 'bytes',
          queries: [
            { expr: `max(wildduck_users_storage_used_bytes{${H}})`, legend: 'used' },
            { expr: `max(wildduck_users_quota_allowed_bytes{${H}})`, legend: 'allowed' },
          ],
        }),
        timeseries({
          title: 'Users near their quota',
          description: 'Users whose storage used is at least the given share of their quota. At 100% incoming mail is refused with MBOX_FULL.',
          unit: 'short',
          alerts: ['TinomailUsersOverQuotaGrowing'],
          queries: [{ expr: `max by (ratio) (wildduck_users_quota_use_at_least{${H}})`, legend: '>= {{ratio}}' }],
        }),
        timeseries({
          title: 'Users by domain',
          description: 'Users by domain of their main address: the domains with most users by name, the rest as other; ten largest shown.',
          unit: 'short',
          queries: [{ expr: `topk(10, max by (domain) (wildduck_domain_users{${H}}))`, legend: '{{domain}}' }],
        }),
        timeseries({
          title: 'Storage by domain',
          description: 'Storage used by the users of each domain (same domains as Users by domain); ten largest shown.',
          unit: 'bytes',
          queries: [{ expr: `topk(10, max by (domain) (wildduck_domain_storage_used_bytes{${H}}))`, legend: '{{domain}}' }],
        }),
        timeseries({
          title: 'Addresses, aliases, webhooks',
          description: 'Addresses, domain aliases and webhooks configured in WildDuck.',
          unit: 'short',
          queries: [
            { expr: `max(wildduck_addresses{${H}})`, legend: 'addresses' },
            { expr: `max(wildduck_domain_aliases{${H}})`, legend: 'domain aliases' },
            { expr: `max(wildduck_webhooks{${H}})`, legend: 'webhooks' },
          ],
        }),
        stat({
          title: 'Last crawl succeeded',
          description: 'Whether the last background crawl of the WildDuck API succeeded (1). At 0 the account, storage and quota panels keep the totals of the last good crawl.',
          unit: 'bool',
          criticalBelow: 1,
          alerts: ['TinomailWildDuckCrawlFailing'],
          queries: [{ expr: `min(wildduck_crawl_success{${H}})` }],
        }),
        timeseries({
          title: 'Crawl age and health',
          description: 'Time since the last successful background crawl of the REST API (the account panels are that old), and the time GET /health took.',
          unit: 's',
          alerts: ['TinomailWildDuckCrawlStale'],
          queries: [
            { expr: `time() - max(wildduck_crawl_last_success_timestamp_seconds{${H}})`, legend: 'since last crawl' },
            { expr: `max(wildduck_health_request_duration_seconds{${H}})`, legend: '/health duration' },
          ],
        }),
        timeseries({
          title: 'Health failure reason',
          description: 'Why GET /health failed at the last scrape: 1 for the current reason (DB down, Redis not writeable, unreachable, ...).',
          unit: 'bool',
          alerts: ['TinomailWildDuckHealthFailing'],
          queries: [{ expr: `max by (reason) (wildduck_health_failure{${H}})`, legend: '{{reason}}' }],
        }),
      ],
    },
    {
      title: 'Authentication',
      panels: [
        timeseries({
          title: 'Logins by result (WildDuck native)',
          description: 'Authentication attempts per minute by service (imap, pop3, api, ...) and result, counted by WildDuck itself (>= 1.49.6). Where this exists the alerts use it for WildDuck, not the GELF count of the same logins.',
          unit: 'cpm',
          alerts: ['TinomailAuthFailureSpike', 'TinomailAuthFailuresHigh'],
          queries: [{ expr: `sum by (service, result) (rate(wildduck_auth_attempts_total{${H}}[${RI}])) * 60`, legend: '{{service}} {{result}}' }],
        }),
        timeseries({
          title: 'Logins by result (GELF)',
          description: 'Authentication attempts per minute logged over GELF by WildDuck and the MTA (zonemta-wildduck), by component and result (success, fail, ratelimited, disabled, ...). The same WildDuck logins as the native panel: compare, never add them.',
          unit: 'cpm',
          alerts: ['TinomailAuthFailureSpike', 'TinomailAuthFailuresHigh'],
          queries: [{ expr: `sum by (component, result) (rate(gelf_auth_attempts_total{${H}}[${RI}])) * 60`, legend: '{{component}} {{result}}' }],
        }),
        timeseries({
          title: 'Users with failed logins and lockouts',
          description: 'Users with recent failed logins, and users locked out at the failure limit, by kind (password, TOTP), from WildDuck\'s Redis keys. Many at once is password guessing.',
          unit: 'short',
          alerts: ['TinomailAuthLockouts'],
          queries: [
            { expr: `max by (kind) (redis_wildduck_auth_failure_counters{${H}})`, legend: 'failing {{kind}}' },
            { expr: `max by (kind) (redis_wildduck_auth_lockouts{${H}})`, legend: 'locked out {{kind}}' },
          ],
        }),
        timeseries({
          title: 'IMAP sessions',
          description: 'IMAP sessions started per minute: WildDuck\'s native count (wildduck_connections_total, >= 1.49.6) where it exists, else the GELF count, never both; sessions refused at the per-user connection limit (GELF only); users connected and the most connections of one user (Redis lim:imap).',
          unit: 'short',
          queries: [
            {
              expr: `(sum(rate(wildduck_connections_total{service="imap", ${H}}[${RI}])) or sum(rate(gelf_imap_connections_total{result="established", ${H}}[${RI}]))) * 60`,
              legend: 'sessions/min',
            },
            {
              expr: `(sum(rate(gelf_imap_connections_total{result="limited", ${H}}[${RI}])) or 0 * sum(rate(gelf_imap_connections_total{${H}}[${RI}]))) * 60`,
              legend: 'refused at the limit/min',
            },
            { expr: `max(redis_wildduck_imap_connected_users{${H}})`, legend: 'users connected' },
            { expr: `max(redis_wildduck_imap_connections_per_user_max{${H}})`, legend: 'most connections of one user' },
          ],
        }),
      ],
    },
  ],
};
