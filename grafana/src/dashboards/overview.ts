/** Overview: is mail coming in and going out, is the queue backing up, what is failing, what is alerting. */
import { type DashboardSpec, HOST, hostVariables, stat, table, timeseries } from '../lib';
import { mailArrivingRow } from './probe-panels';

const H = HOST;
const RI = '$__rate_interval';

export const overview: DashboardSpec = {
  uid: 'tinomail-overview',
  title: 'Mail / Overview',
  description:
    'The first dashboard to open: mail in (Haraka) and out (ZoneMTA), the outbound queue, errors across the suite, alerts firing and targets down. Every other mail dashboard is one click away in the links at the top.',
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
            { expr: `sum(rate(gelf_auth_attempts_total{result!="success", ${H}}[${RI}])) * 60`, legend: 'failed logins' },
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
  ],
};
