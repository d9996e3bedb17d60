/** Counts each report once: new reports go to the metrics and the state, known or stale ones are only tallied. */
import type { Logger } from '../kit/log';
import type { ReportMetrics } from './metrics';
import { ReportError, reporterName, type Report } from './report';
import { ReportState } from './state';

export type Verdict = 'counted' | 'duplicate' | 'stale' | 'refused';

export interface LedgerOptions {
  /** Report IDs are remembered this long; reports whose period ended longer ago are stale. */
  retentionMs: number;
  maxStateEntries: number;
}

export class Ledger {
  constructor(
    private readonly metrics: ReportMetrics,
    readonly state: ReportState,
    private readonly opts: LedgerOptions,
    private readonly log: Logger,
  ) {}

  /** Loads the state and shows what it remembers (labels handed out, last reports). */
  restore(): void {
    try {
      this.state.load();
    } catch (err) {
      // Counting some reports twice is better than counting none: start afresh, say so, keep the old file.
      this.log.error('state file unreadable; starting with an empty state', { file: this.state.file, err: (err as Error).message });
    }
    for (const r of this.state.reporters) this.metrics.reporters.value(r);
    for (const d of this.state.domains) this.metrics.domains.value(d);
    for (const l of this.state.last) this.metrics.setLast(l.kind, l.reporter, l.received, l.periodEnd);
    this.metrics.stateEntries.set(this.state.size);
  }

  account(outcome: Report | ReportError, now = Date.now()): Verdict {
    if (outcome instanceof ReportError) {
      this.metrics.result(outcome.kind, outcome.reason);
      this.log.warn('report refused', { kind: outcome.kind, reason: outcome.reason, err: outcome.message });
      return 'refused';
    }
    const key = ReportState.key(outcome.kind, reporterName(outcome.contact, outcome.orgName), outcome.reportId);
    if (this.state.has(key)) {
      this.metrics.result(outcome.kind, 'duplicate');
      return 'duplicate';
    }
    if (outcome.end * 1000 < now - this.opts.retentionMs) {
      this.metrics.result(outcome.kind, 'stale');
      return 'stale';
    }
    const reporter = this.metrics.count(outcome);
    const received = Math.floor(now / 1000);
    this.state.add(key, received);
    this.metrics.setLast(outcome.kind, reporter, received, outcome.end);
    this.state.setLast({ kind: outcome.kind, reporter, received, periodEnd: outcome.end });
    return 'counted';
  }

  /** Saves the state; called after each message or file, before it is moved, so a crash never counts twice. */
  commit(now = Date.now()): void {
    this.state.prune(Math.floor((now - this.opts.retentionMs) / 1000), this.opts.maxStateEntries);
    this.state.reporters = this.metrics.reporters.values();
    this.state.domains = this.metrics.domains.values();
    this.metrics.stateEntries.set(this.state.size);
    try {
      this.state.save();
    } catch (err) {
      // Counting goes on (this process still remembers); only a restart could count twice.
      this.metrics.stateSaveErrors.inc();
      this.log.error('cannot write the state file', { file: this.state.file, err: (err as Error).message });
    }
  }
}
