/**
 * The exporter's metrics. Report counters jump once a day by a whole report, and most of their series appear
 * for the first time with that jump; Prometheus' increase() and rate() take the first sample of a new series as
 * its start and would lose that first report. So a series that does not exist yet is created at 0 and the
 * report's value is added only after one scrape has shown the 0 (LateCounter).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { BoundedLabel } from '../kit/labels';
import { KINDS, REFUSALS, reporterName, type Report } from './report';

type Labels = Record<string, string>;

/** The kit's first-come BoundedLabel, remembering the values it handed out so the state file can keep them. */
export class KeptLabel {
  private readonly label: BoundedLabel;
  private readonly given = new Set<string>();

  constructor(max: number) {
    this.label = new BoundedLabel(max);
  }

  value(raw: string, fallback = 'none'): string {
    const v = this.label.value(raw, fallback);
    if (v === raw) this.given.add(v);
    return v;
  }

  values(): string[] {
    return [...this.given];
  }
}

/** A counter whose new series show 0 for one scrape before their first increment. */
export class LateCounter {
  private readonly shown = new Set<string>();
  /** Increments of series not yet shown at 0, and whether the 0 has been scraped. */
  private readonly pending = new Map<string, { labels: Labels; value: number; scraped: boolean }>();

  constructor(readonly counter: Counter<string>) {}

  inc(labels: Labels, value: number): void {
    const key = JSON.stringify(labels);
    if (this.shown.has(key)) {
      this.counter.inc(labels, value);
      return;
    }
    const p = this.pending.get(key);
    if (p) p.value += value;
    else {
      this.counter.inc(labels, 0);
      this.pending.set(key, { labels, value, scraped: false });
    }
  }

  /** Called at every scrape, before the registry renders. */
  flush(): void {
    for (const [key, p] of this.pending) {
      if (!p.scraped) {
        p.scraped = true;
        continue;
      }
      this.counter.inc(p.labels, p.value);
      this.shown.add(key);
      this.pending.delete(key);
    }
  }
}

export interface LabelLimits {
  topReporters: number;
  maxDomains: number;
}

export class ReportMetrics {
  readonly reporters: KeptLabel;
  readonly domains: KeptLabel;
  private readonly dmarcMessages: LateCounter;
  private readonly tlsSessions: LateCounter;
  private readonly tlsFailures: LateCounter;
  private readonly processed: Counter<'kind' | 'result'>;
  private readonly messages: Counter<'result'>;
  private readonly fetchErrors: Counter<'source'>;
  private readonly lastReceived: Gauge<'kind' | 'reporter'>;
  private readonly lastPeriodEnd: Gauge<'kind' | 'reporter'>;
  readonly stateEntries: Gauge;
  readonly watchingSince: Gauge;
  readonly stateSaveErrors: Counter;

  constructor(registry: Registry, limits: LabelLimits) {
    this.reporters = new KeptLabel(limits.topReporters);
    this.domains = new KeptLabel(limits.maxDomains);
    const registers = [registry];
    this.dmarcMessages = new LateCounter(
      new Counter({
        name: 'reports_dmarc_messages_total',
        help: 'Messages DMARC aggregate reports counted (the records\' count), by reporter, our domain (policy_published), disposition, DKIM and SPF result as the receiver evaluated them for DMARC (aligned), and source: own (within --reports.own-networks) or other. Grows once per report, a day after the mail.',
        labelNames: ['reporter', 'domain', 'disposition', 'dkim', 'spf', 'source'],
        registers,
      }),
    );
    this.tlsSessions = new LateCounter(
      new Counter({
        name: 'reports_tlsrpt_sessions_total',
        help: 'SMTP TLS sessions TLS-RPT reports (RFC 8460) counted, by reporter, our policy domain, policy type (sts, tlsa, no-policy-found) and result (successful, failed). Grows once per report.',
        labelNames: ['reporter', 'domain', 'policy_type', 'result'],
        registers,
      }),
    );
    this.tlsFailures = new LateCounter(
      new Counter({
        name: 'reports_tlsrpt_failed_sessions_total',
        help: 'Failed SMTP TLS sessions in TLS-RPT failure details, by reporter, our policy domain and result type (certificate-expired, starttls-not-supported, validation-failure, ...).',
        labelNames: ['reporter', 'domain', 'type'],
        registers,
      }),
    );
    this.processed = new Counter({
      name: 'reports_processed_total',
      help: 'Reports (attachments or files) processed, by kind (dmarc, tlsrpt, unknown) and result: counted, duplicate (already counted), stale (period older than --reports.state-retention), malformed, oversized, zip_bomb.',
      labelNames: ['kind', 'result'],
      registers,
    });
    for (const kind of KINDS) {
      for (const result of ['counted', 'duplicate', 'stale', ...REFUSALS]) this.processed.inc({ kind, result }, 0);
    }
    this.messages = new Counter({
      name: 'reports_messages_total',
      help: 'Mail messages read (IMAP, or .eml files in --reports.dir), by result: processed (every report in it counted or a duplicate, moved to the processed folder) or kept (no report, or one refused: left for a person in the kept folder).',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['processed', 'kept']) this.messages.inc({ result }, 0);
    this.fetchErrors = new Counter({
      name: 'reports_fetch_errors_total',
      help: 'Polls of a report source that failed (IMAP login, mailbox, download or move; directory not readable), by source (imap, dir).',
      labelNames: ['source'],
      registers,
    });
    for (const source of ['imap', 'dir']) this.fetchErrors.inc({ source }, 0);
    this.lastReceived = new Gauge({
      name: 'reports_last_received_timestamp_seconds',
      help: 'When the last report of this kind from this reporter was counted (Unix time); kept across restarts in the state file.',
      labelNames: ['kind', 'reporter'],
      registers,
    });
    this.lastPeriodEnd = new Gauge({
      name: 'reports_last_period_end_timestamp_seconds',
      help: 'End of the period the last report of this kind from this reporter covers (Unix time).',
      labelNames: ['kind', 'reporter'],
      registers,
    });
    this.stateSaveErrors = new Counter({ name: 'reports_state_save_errors_total', help: 'Failed writes of --reports.state-file (counting goes on; a restart could then count reports again).', registers });
    this.watchingSince = new Gauge({
      name: 'reports_watching_since_timestamp_seconds',
      help: 'Since when a report source has been watched (Unix time, kept in the state file); absent without a source. "No reports for 3 days" counts from here until the first report.',
      registers,
    });
    this.stateEntries = new Gauge({ name: 'reports_state_report_ids', help: 'Report IDs kept in the state file to count each report once.', registers });
  }

  /** The reporter's bounded label value. */
  reporterLabel(report: Report): string {
    return this.reporters.value(reporterName(report.contact, report.orgName), 'unknown');
  }

  /** Adds a report's values; the caller has checked it is new. */
  count(report: Report): string {
    const reporter = this.reporterLabel(report);
    if (report.kind === 'dmarc') {
      const domain = this.domains.value(report.domain);
      for (const row of report.rows) {
        this.dmarcMessages.inc({ reporter, domain, disposition: row.disposition, dkim: row.dkim, spf: row.spf, source: row.source }, row.count);
      }
    } else {
      for (const p of report.policies) {
        const domain = this.domains.value(p.domain);
        this.tlsSessions.inc({ reporter, domain, policy_type: p.policyType, result: 'successful' }, p.successful);
        this.tlsSessions.inc({ reporter, domain, policy_type: p.policyType, result: 'failed' }, p.failed);
        for (const [type, n] of p.failures) this.tlsFailures.inc({ reporter, domain, type }, n);
      }
    }
    this.processed.inc({ kind: report.kind, result: 'counted' });
    return reporter;
  }

  setLast(kind: string, reporter: string, received: number, periodEnd: number): void {
    this.lastReceived.set({ kind, reporter }, received);
    this.lastPeriodEnd.set({ kind, reporter }, periodEnd);
  }

  result(kind: string, result: string): void {
    this.processed.inc({ kind, result });
  }

  message(result: 'processed' | 'kept'): void {
    this.messages.inc({ result });
  }

  fetchError(source: 'imap' | 'dir'): void {
    this.fetchErrors.inc({ source });
  }

  flush(): void {
    this.dmarcMessages.flush();
    this.tlsSessions.flush();
    this.tlsFailures.flush();
  }
}
