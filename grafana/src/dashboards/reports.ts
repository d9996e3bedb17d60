/**
 * Reports: what receivers say about our mail in DMARC aggregate and TLS-RPT reports (the reports exporter).
 * Reports arrive once a day and cover a whole day, so every panel shows increase() over a day: a bar per day
 * reads right, a 5-minute rate would not.
 */
import { type DashboardSpec, HOST, hostVariables, stat, table, timeseries } from '../lib';

const H = HOST;
const DAY = '1d';
const own = `reports_dmarc_messages_total{${H}, source="own"}`;
const ownFailing = `reports_dmarc_messages_total{${H}, source="own", dkim!="pass", spf!="pass"}`;

export const reports: DashboardSpec = {
  uid: 'tinomail-reports',
  title: 'Mail / Reports (DMARC, TLS-RPT)',
  description:
    'What receivers report about our mail: DMARC results of our own sending IPs and of spoofers (RFC 7489 aggregate reports) and SMTP TLS failures seen by senders to our MX (RFC 8460 TLS-RPT). Reports arrive once a day for the day before, so values are per day. Fed by the reports exporter.',
  variables: [...hostVariables('reports_up')],
  rows: [
    {
      title: 'Now',
      panels: [
        stat({
          title: 'Report source reachable',
          description: 'reports_up: whether the last poll reached the report mailbox or directory (1).',
          unit: 'bool',
          criticalBelow: 1,
          alerts: ['TinomailReportsSourceDown'],
          queries: [{ expr: `min(reports_up{${H}})` }],
        }),
        stat({
          title: 'Time since the last report',
          description: 'Since the last DMARC or TLS-RPT report was counted. Big receivers send one a day: three days without one means the rua address or the mailbox is broken.',
          unit: 's',
          warnAt: 2 * 86400,
          criticalAt: 3 * 86400,
          alerts: ['TinomailNoReportsReceived'],
          queries: [{ expr: `time() - max(reports_last_received_timestamp_seconds{${H}})` }],
        }),
        stat({
          title: 'Own mail failing DMARC (last day)',
          description: 'Share of the messages from our own sending IPs that failed DMARC (neither DKIM nor SPF aligned) in the reports of the last day.',
          unit: 'percentunit',
          warnAt: 0.05,
          criticalAt: 0.2,
          alerts: ['TinomailDMARCFailingOwnSources'],
          // `or vector(0)`: with every own message passing there is no failing series, and the share is 0, not empty.
          queries: [{ expr: `(sum(increase(${ownFailing}[${DAY}])) or vector(0)) / sum(increase(${own}[${DAY}]))` }],
        }),
        stat({
          title: 'TLS sessions failing (last day)',
          description: 'Share of the SMTP sessions to our MX that senders report as failed TLS (TLS-RPT), last day.',
          unit: 'percentunit',
          warnAt: 0.01,
          criticalAt: 0.1,
          alerts: ['TinomailTLSReportFailures'],
          queries: [{ expr: `(sum(increase(reports_tlsrpt_sessions_total{${H}, result="failed"}[${DAY}])) or vector(0)) / sum(increase(reports_tlsrpt_sessions_total{${H}}[${DAY}]))` }],
        }),
      ],
    },
    {
      title: 'DMARC',
      panels: [
        timeseries({
          title: 'Own mail by DKIM and SPF result, per day',
          description: 'Messages from our own sending IPs by the DKIM and SPF results receivers evaluated for DMARC. dkim=fail with spf=pass: DKIM signing broke; spf=fail: a sending IP is missing from SPF.',
          unit: 'short',
          stacked: true,
          alerts: ['TinomailDMARCFailingOwnSources'],
          queries: [{ expr: `sum by (dkim, spf) (increase(${own}[${DAY}]))`, legend: 'dkim={{dkim}} spf={{spf}}' }],
        }),
        timeseries({
          title: 'Mail in our name from other IPs failing DMARC, per day',
          description: 'Messages with our domain in From, from IPs outside --reports.own-networks, that failed DMARC: spoofing, or a third-party sender of ours that does not sign for our domain.',
          unit: 'short',
          alerts: ['TinomailDMARCSpoofing'],
          queries: [{ expr: `sum by (domain) (increase(reports_dmarc_messages_total{${H}, source="other", dkim!="pass", spf!="pass"}[${DAY}]))`, legend: '{{domain}}' }],
        }),
        timeseries({
          title: 'Reported messages by receiver, per day',
          description: 'Messages the reports of each receiver cover (top reporters, the rest as other).',
          unit: 'short',
          stacked: true,
          queries: [{ expr: `sum by (reporter) (increase(reports_dmarc_messages_total{${H}}[${DAY}]))`, legend: '{{reporter}}' }],
        }),
        timeseries({
          title: 'Disposition receivers applied, per day',
          description: 'What receivers did with the mail (none: delivered; quarantine: spam folder; reject: refused), by source.',
          unit: 'short',
          queries: [{ expr: `sum by (disposition, source) (increase(reports_dmarc_messages_total{${H}}[${DAY}]))`, legend: '{{source}} {{disposition}}' }],
        }),
        table({
          title: 'Last day by domain, receiver and result',
          description: 'Messages in the reports of the last day by our domain, receiver, source and DMARC result (DKIM and SPF aligned).',
          unit: 'short',
          height: 8,
          queries: [{ expr: `sum by (domain, reporter, source, dkim, spf) (increase(reports_dmarc_messages_total{${H}}[${DAY}])) > 0` }],
        }),
      ],
    },
    {
      title: 'TLS-RPT',
      panels: [
        timeseries({
          title: 'TLS sessions by policy type and result, per day',
          description: 'SMTP sessions to our MX that senders report, by policy type (sts: MTA-STS, tlsa: DANE, no-policy-found) and result.',
          unit: 'short',
          alerts: ['TinomailTLSReportFailures'],
          queries: [{ expr: `sum by (policy_type, result) (increase(reports_tlsrpt_sessions_total{${H}}[${DAY}]))`, legend: '{{policy_type}} {{result}}' }],
        }),
        timeseries({
          title: 'Failed TLS sessions by failure type, per day',
          description: 'Failed sessions by RFC 8460 result type: certificate-expired, starttls-not-supported, validation-failure, sts-policy-fetch-error, tlsa-invalid, ... (the runbook says what each means).',
          unit: 'short',
          queries: [{ expr: `sum by (type) (increase(reports_tlsrpt_failed_sessions_total{${H}}[${DAY}]))`, legend: '{{type}}' }],
        }),
      ],
    },
    {
      title: 'Processing',
      panels: [
        timeseries({
          title: 'Reports processed by result, per day',
          description: 'Reports read by kind and result: counted, duplicate (already counted), stale, malformed, oversized, zip_bomb.',
          unit: 'short',
          queries: [{ expr: `sum by (kind, result) (increase(reports_processed_total{${H}}[${DAY}])) > 0`, legend: '{{kind}} {{result}}' }],
        }),
        timeseries({
          title: 'Report mails, per day',
          description: 'Mails read from the report mailbox: processed (moved to the processed folder) or kept for a person (no report, or a refused one).',
          unit: 'short',
          alerts: ['TinomailReportsKept'],
          queries: [{ expr: `sum by (result) (increase(reports_messages_total{${H}}[${DAY}]))`, legend: '{{result}}' }],
        }),
        timeseries({
          title: 'Fetch errors',
          description: 'Polls of the report mailbox (imap) or directory (dir) that failed, per hour.',
          unit: 'short',
          queries: [{ expr: `sum by (source) (increase(reports_fetch_errors_total{${H}}[1h]))`, legend: '{{source}}' }],
        }),
        table({
          title: 'Last report per receiver',
          description: 'Time since the last report of each kind from each receiver was counted, and the end of the period it covered.',
          unit: 's',
          height: 8,
          queries: [
            { expr: `max by (kind, reporter) (time() - reports_last_received_timestamp_seconds{${H}})` },
            { expr: `max by (kind, reporter) (time() - reports_last_period_end_timestamp_seconds{${H}})` },
          ],
        }),
      ],
    },
  ],
};
