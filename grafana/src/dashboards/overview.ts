/**
 * Overview: is mail coming in and going out, is the queue backing up, is the delivery SLO kept, what is failing,
 * what is alerting, and does the alerting itself work.
 */
import { type DashboardSpec, HOST, hostVariables, stat, table, timeseries } from '../lib';
import { mailArrivingRow } from './probe-panels';

const H = HOST;
const RI = '$__rate_interval';
/** The SLO's objective, from its one recording rule (prometheus/rules/slo.yml). */
const BUDGET = `(1 - scalar(tinomail:zonemta_delivery_success:objective{${H}}))`;
const failedShare = (range: string) =>
  `sum(increase(zonemta_delivery_status{status!="delivered", ${H}}[${range}])) / sum(increase(zonemta_delivery_status{${H}}[${range}]))`;

export const overview: DashboardSpec = {
  uid: 'tinomail-overview',
  title: 'Mail / Overview',
  description:
    'The first dashboard to open: mail in (Haraka) and out (ZoneMTA), the outbound queue, the delivery SLO and its error budget, errors across the suite, alerts firing, targets down and the health of the alerting pipeline. Every other mail dashboard is one click away in the links at the top.',
  variables: [...hostVariables('up')],
  rows: [
    {
      title: 'Now',
      panels: [
        stat({
          title: 'Alerts firing',
          description: 'Alerts firing now in this Prometheus (all hosts). The table below names them; each has a runbook entry.',
          unit: 'short',
          warnAt: 1,
          queries: [{ expr: 'count(ALERTS{alertstate="firing"}) or vector(0)' }],
          width: 4,
        }),
        stat({
          title: 'Targets down',
          description: 'Scrape targets (exporters, plugins, native /metrics) that did not answer their last scrape. An exporter that answers but cannot reach its service shows in its own <name>_up instead.',
          unit: 'short',
          criticalAt: 1,
          alerts: ['TinomailMailServiceDown', 'TinomailExporterDown'],
          queries: [{ expr: `count(up{${H}} == 0) or vector(0)` }],
          width: 4,
        }),
        stat({
          title: 'Inbound accepted',
          description: 'Messages the MX (Haraka) accepted per minute over the last 5 minutes.',
          unit: 'mpm',
          alerts: ['TinomailMXAcceptingNothing'],
          queries: [{ expr: `sum(rate(haraka_messages_total{result="accept", ${H}}[5m])) * 60` }],
          width: 4,
        }),
        stat({
          title: 'Outbound delivered',
          description: 'Recipients remote MX accepted from ZoneMTA per minute over the last 5 minutes.',
          unit: 'mpm',
          queries: [{ expr: `sum(rate(zonemta_tinomail_deliveries_total{outcome="accepted", ${H}}[5m])) * 60` }],
          width: 4,
        }),
        stat({
          title: 'Outbound queue',
          description: 'Recipients waiting in the ZoneMTA queue, all zones (mongodb exporter).',
          unit: 'short',
          queries: [{ expr: `sum(mongodb_zonemta_queue_recipients{${H}})` }],
          width: 4,
        }),
        stat({
          title: 'Oldest in queue',
          description: 'Age of the oldest recipient in the ZoneMTA queue. Hours mean mail is stuck: see Outbound.',
          unit: 's',
          warnAt: 3600,
          criticalAt: 86400,
          alerts: ['TinomailQueueOldestMessageTooOld'],
          queries: [{ expr: `max(mongodb_zonemta_queue_oldest_age_seconds{${H}})` }],
          width: 4,
        }),
      ],
    },
    mailArrivingRow,
    {
      title: 'Mail flow',
      panels: [
        timeseries({
          title: 'Inbound messages',
          description: 'Messages per minute at the MX by the reply to the final dot: accept, tempfail, reject, aborted (haraka-plugin-tinomail). See Inbound for why.',
          unit: 'mpm',
          stacked: true,
          queries: [{ expr: `sum by (result) (rate(haraka_messages_total{${H}}[${RI}])) * 60`, legend: '{{result}}' }],
        }),
        timeseries({
          title: 'Outbound delivery attempts',
          description: 'Delivery attempts per minute by outcome: accepted by the remote MX, deferred (will retry), rejected (bounced) (zonemta-tinomail). See Outbound for zones, IPs and destinations.',
          unit: 'mpm',
          stacked: true,
          queries: [{ expr: `sum by (outcome) (rate(zonemta_tinomail_deliveries_total{${H}}[${RI}])) * 60`, legend: '{{outcome}}' }],
        }),
        timeseries({
          title: 'Outbound queue by zone',
          description: 'Recipients in the ZoneMTA queue per sending zone (due, deferred and being delivered together).',
          unit: 'short',
          stacked: true,
          queries: [{ expr: `sum by (zone) (mongodb_zonemta_queue_recipients{${H}})`, legend: '{{zone}}' }],
        }),
        timeseries({
          title: 'Stored into mailboxes',
          description: 'Message copies the MX stored into WildDuck mailboxes per minute (haraka-plugin-wildduck over GELF). See Mailboxes and IMAP for WildDuck itself.',
          unit: 'mpm',
          queries: [{ expr: `sum(rate(gelf_mx_messages_stored_total{${H}}[${RI}])) * 60`, legend: 'stored' }],
        }),
      ],
    },
    {
      title: 'Delivery SLO and outbound health',
      panels: [
        stat({
          title: 'Delivery success (30 days)',
          description:
            'Share of ZoneMTA delivery attempts that ended delivered over the last 30 days (native zonemta_delivery_status; deferred, rejected and unknown count as failures). The objective is the tinomail:zonemta_delivery_success:objective rule in prometheus/rules/slo.yml. System-wide: read it with Host set to All.',
          unit: 'percentunit',
          alerts: ['TinomailDeliveryErrorBudgetBurn'],
          queries: [{ expr: `1 - ${failedShare('30d')}` }],
          width: 4,
        }),
        stat({
          title: 'Error budget left (30 days)',
          description:
            'Share of the 30-day error budget not yet spent: 1 minus the failed share over 30 days divided by the failures the objective allows. Below 0 the SLO is missed. Needs Host set to All (the objective has no host).',
          unit: 'percentunit',
          warnBelow: 0.25,
          criticalBelow: 0,
          alerts: ['TinomailDeliveryErrorBudgetBurn'],
          queries: [{ expr: `1 - (${failedShare('30d')}) / ${BUDGET}` }],
          width: 4,
        }),
        timeseries({
          title: 'Error budget burn rate',
          description:
            'How many times faster than the objective allows delivery attempts fail, over the windows of the burn-rate alerts: a page at 14.4 (1h and 5m) or 6 (6h and 30m), a ticket at 3 (1d and 2h) or 1 (3d and 6h). 1 spends the budget in exactly 30 days.',
          unit: 'short',
          alerts: ['TinomailDeliveryErrorBudgetBurn'],
          queries: ['5m', '1h', '6h', '1d', '3d'].map((w) => ({ expr: `tinomail:zonemta_delivery_errors:ratio_rate${w}{${H}} / ${BUDGET}`, legend: w })),
          width: 8,
        }),
        stat({
          title: 'ZoneMTA blacklisted',
          description: 'Destination domain and local address pairs ZoneMTA has blacklisted after a destination refused the address (kept 6 hours, reset when ZoneMTA restarts). Above 0 a sending IP is being blocked somewhere.',
          unit: 'short',
          warnAt: 1,
          alerts: ['TinomailZoneMTABlacklisted'],
          queries: [{ expr: `sum(zonemta_blacklisted{${H}})` }],
          width: 4,
        }),
        stat({
          title: 'Unscanned share (MX)',
          description: 'Share of messages the MX accepted without a spam scan because the Rspamd scan failed or Rspamd skipped it (haraka-plugin-rspamd lets mail through on error by default). Deliberate skips (authenticated, relay) are not counted.',
          unit: 'percentunit',
          warnAt: 0.05,
          alerts: ['TinomailMXMailUnscanned'],
          queries: [
            {
              expr: `(sum(rate(haraka_rspamd_errors_total{${H}}[15m]) or rate(haraka_rspamd_skips_total{reason="rspamd", ${H}}[15m])) or vector(0)) / sum(rate(haraka_messages_total{result="accept", ${H}}[15m]))`,
            },
          ],
          width: 4,
        }),
        timeseries({
          title: 'Failed share per destination',
          description: 'Share of delivery attempts deferred or rejected per destination group (large providers by name, the rest as other), over every sending IP. One provider near 100% is refusing us.',
          unit: 'percentunit',
          min: 0,
          max: 1,
          alerts: ['TinomailDestinationHighFailureRatio'],
          queries: [
            {
              expr: `sum by (destination) (rate(zonemta_tinomail_deliveries_total{outcome=~"deferred|rejected", ${H}}[${RI}])) / sum by (destination) (rate(zonemta_tinomail_deliveries_total{${H}}[${RI}]))`,
              legend: '{{destination}}',
            },
          ],
          width: 12,
        }),
        timeseries({
          title: 'Unscanned share per MX',
          description: 'Per MX host: share of accepted messages that Rspamd did not scan (scan failed, or Rspamd skipped it), over 15 minutes.',
          unit: 'percentunit',
          min: 0,
          alerts: ['TinomailMXMailUnscanned'],
          queries: [
            {
              expr: `(sum by (host) (rate(haraka_rspamd_errors_total{${H}}[15m]) or rate(haraka_rspamd_skips_total{reason="rspamd", ${H}}[15m])) or 0 * sum by (host) (rate(haraka_messages_total{result="accept", ${H}}[15m]))) / sum by (host) (rate(haraka_messages_total{result="accept", ${H}}[15m]))`,
              legend: '{{host}}',
            },
          ],
          width: 12,
        }),
      ],
    },
    {
      title: 'Errors',
      panels: [
        timeseries({
          title: 'Errors across the suite',
          description:
            'Per minute: recipients the MX refused or deferred, accepted messages the MX failed to store, outbound attempts rejected and deferred, failed logins. Each line has its own dashboard.',
          unit: 'cpm',
          width: 24,
          queries: [
            { expr: `sum(rate(haraka_recipients_total{result=~"reject|tempfail", ${H}}[${RI}])) * 60`, legend: 'inbound recipients refused' },
            { expr: `sum(rate(gelf_mx_store_failures_total{${H}}[${RI}])) * 60`, legend: 'inbound store failures' },
            { expr: `sum by (outcome) (rate(zonemta_tinomail_deliveries_total{outcome=~"deferred|rejected", ${H}}[${RI}])) * 60`, legend: 'outbound {{outcome}}' },
            {
              // WildDuck's native count where it exists, the GELF count as a fallback, never both added
              expr: `sum(label_replace(sum(rate(wildduck_auth_attempts_total{result=~"fail|unknown|ratelimited", ${H}}[${RI}])), "component", "wildduck", "", "") or sum by (component) (rate(gelf_auth_attempts_total{result=~"fail|unknown|ratelimited", ${H}}[${RI}]))) * 60`,
              legend: 'failed logins',
            },
          ],
        }),
      ],
    },
    {
      title: 'Alerts and targets',
      panels: [
        table({
          title: 'Alerts firing now',
          description: 'Every alert firing in this Prometheus with its severity, the part of the suite it is about and its host. Open the runbook (link in this panel, or the runbook_url of the notification) for what to do.',
          unit: 'short',
          width: 12,
          queries: [{ expr: 'sort_desc(sum by (alertname, severity, service, host) (ALERTS{alertstate="firing"}))' }],
          runbooks: true,
        }),
        table({
          title: 'Targets not answering',
          description: 'Scrape targets that failed their last scrape, by job and instance. A plugin target down usually means Haraka or ZoneMTA itself is down.',
          unit: 'short',
          width: 12,
          alerts: ['TinomailMailServiceDown', 'TinomailExporterDown'],
          queries: [{ expr: `up{${H}} == 0` }],
        }),
      ],
    },
    {
      title: 'Alerting pipeline',
      panels: [
        stat({
          title: 'Watchdog',
          description: 'The always-firing TinomailWatchdog (1 = firing): Prometheus evaluates rules. Alertmanager sends it to the dead man\'s switch every 5 minutes; the heartbeat service pages when it stops arriving (docs/alertmanager.md).',
          unit: 'short',
          criticalBelow: 1,
          alerts: ['TinomailWatchdog'],
          queries: [{ expr: 'count(ALERTS{alertname="TinomailWatchdog", alertstate="firing"}) or vector(0)' }],
          width: 4,
        }),
        stat({
          title: 'Alertmanagers connected',
          description: 'Alertmanagers each Prometheus has discovered (the fewest over the chosen Prometheus servers). At 0 no alert reaches anyone.',
          unit: 'short',
          criticalBelow: 1,
          alerts: ['TinomailPrometheusNoAlertmanager'],
          queries: [{ expr: `min(prometheus_notifications_alertmanagers_discovered{${H}})` }],
          width: 4,
        }),
        timeseries({
          title: 'Notifications failing',
          description: 'Notifications Alertmanager failed to send per minute by integration (pagerduty, slack, email, webhook), and alerts Prometheus failed to send to Alertmanager.',
          unit: 'cpm',
          alerts: ['TinomailAlertmanagerNotificationsFailing', 'TinomailPrometheusNotificationsFailing'],
          queries: [
            { expr: `sum by (integration) (rate(alertmanager_notifications_failed_total{${H}}[${RI}])) * 60`, legend: 'alertmanager {{integration}}' },
            { expr: `sum(rate(prometheus_notifications_errors_total{${H}}[${RI}])) * 60`, legend: 'prometheus to alertmanager' },
          ],
          width: 8,
        }),
        timeseries({
          title: 'Rule, discovery and reload failures',
          description: 'Rule evaluations that failed (those alerts cannot fire) and service discovery errors (a targets file that does not parse), per minute; configuration reloads that failed (1) for Prometheus and Alertmanager.',
          unit: 'short',
          alerts: ['TinomailPrometheusRuleEvaluationFailures', 'TinomailPrometheusServiceDiscoveryFailing', 'TinomailAlertmanagerConfigReloadFailed'],
          queries: [
            { expr: `sum by (rule_group) (rate(prometheus_rule_evaluation_failures_total{${H}}[${RI}])) * 60`, legend: 'rule failures {{rule_group}}' },
            { expr: `sum(rate(prometheus_sd_file_read_errors_total{${H}}[${RI}])) * 60`, legend: 'discovery errors' },
            { expr: `1 - min(prometheus_config_last_reload_successful{${H}})`, legend: 'prometheus reload failed' },
            { expr: `1 - min(alertmanager_config_last_reload_successful{${H}})`, legend: 'alertmanager reload failed' },
          ],
          width: 8,
        }),
        timeseries({
          title: 'Scrape targets per job',
          description: 'Targets each scrape job has now. A job that drops to 0 (an emptied or broken targets file) has no up series left: none of its down alerts can fire.',
          unit: 'short',
          alerts: ['TinomailScrapeTargetsVanished'],
          queries: [{ expr: `max by (config) (prometheus_sd_discovered_targets{name="scrape", ${H}})`, legend: '{{config}}' }],
          width: 16,
        }),
      ],
    },
  ],
};
