/**
 * One route's probe loop. Every interval a round submits one message with a fresh token (saved in the ledger
 * before it is submitted). While messages are in flight the mailbox is looked at every poll interval and
 * whenever IMAP announces a new message. A message seen within its timeout is a success; a round whose timeout
 * passes fails at the stage that explains it (deliver when the MTA reported a deferral, fetch when the mailbox
 * could not be read, else timeout), and the message is still looked for until late_threshold: found then, it is
 * late, not lost. Every probe message found is deleted, including leftovers of a crash or of a lost round.
 */
import { randomBytes } from 'node:crypto';
import { withDeadline } from '../kit/collectors';
import type { Logger } from '../kit/log';
import { type Checker, createChecker, type FoundMessage, zoneMtaStatus } from './check';
import type { RouteConfig } from './config';
import type { Ledger } from './ledger';
import type { ProbeMetrics, RequestTarget, Stage } from './metrics';
import { hopSeconds, HOPS } from './received';
import type { InFlight } from './state';
import { createSubmitter, submitDeadlineMs, type Submitter } from './submit';

/** A look at the mailbox or the MTA never waits longer than this, so decisions stay on time... */
const MAX_LOOK_MS = 30_000;
/** ...and is always given this long, even on a route with a shorter timeout (an IMAP login takes a moment). */
const MIN_LOOK_MS = 5_000;

export class RouteProber {
  readonly submitter: Submitter;
  readonly checker: Checker;
  private readonly log: Logger;
  private roundTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly rounds = new Set<Promise<void>>();
  /** Tokens whose submission is still going on: no timeout is decided for them until it ends. */
  private readonly submitting = new Set<string>();
  private readonly abort = new AbortController();
  /** Why the last look at the mailbox failed; undefined after a look that worked. */
  private fetchError?: string;
  /** Tokens the MTA reported deferred, with its answer (kept for the log). */
  private readonly deferred = new Map<string, string>();

  constructor(
    readonly route: RouteConfig,
    private readonly ledger: Ledger,
    private readonly metrics: ProbeMetrics,
    log: Logger,
  ) {
    this.log = log.child({ route: route.name });
    const count = (target: RequestTarget) => () => metrics.requests.inc({ route: route.name, target });
    this.submitter = createSubmitter(route, count('submit'));
    this.checker = createChecker(route, count('check'), () => void this.check());
    this.mtaRequest = count('mta');
    metrics.initRoute(route.name);
  }

  private readonly mtaRequest: () => void;

  /** Starts the rounds: the first at once, then every interval. */
  start(): void {
    void this.checker.prepare?.(this.abort.signal).catch((err) => this.log.warn('cannot open the mailbox yet', { err: (err as Error).message }));
    this.updateInFlight();
    if (this.ledger.of(this.route.name).length) this.schedulePoll(0);
    const loop = () => {
      if (this.stopped) return;
      void this.round();
      this.roundTimer = setTimeout(loop, this.route.intervalMs);
    };
    this.roundTimer = setTimeout(loop, 0);
  }

  /** One round: submit one probe message. Resolves when the submission is done (not when it arrives). */
  round(): Promise<void> {
    const p = this.submitOne().finally(() => this.rounds.delete(p));
    this.rounds.add(p);
    return p;
  }

  private async submitOne(): Promise<void> {
    const name = this.route.name;
    const entry: InFlight = { route: name, token: randomBytes(16).toString('hex'), sentAt: Date.now(), outcome: 'pending' };
    // Saved before it leaves: a crash during the submission cannot lose it.
    this.ledger.add(entry);
    this.updateInFlight();
    this.submitting.add(entry.token);
    try {
      await this.checker.prepare?.(this.abort.signal).catch(() => undefined); // IDLE listening before it can land
      entry.sentAt = Date.now();
      const result = await withDeadline(submitDeadlineMs(this.route), (signal) =>
        this.submitter.submit({ route: name, token: entry.token, from: this.route.from, to: this.route.to }, AbortSignal.any([signal, this.abort.signal])),
      );
      entry.queueId = result.queueId;
      entry.sentCopy = result.sentCopy;
      this.ledger.save();
      this.log.debug('probe message submitted', { queue_id: result.queueId });
    } catch (err) {
      // Stopping mid-submission: it may have left, so it stays in the state for the next start to look for.
      if (this.stopped) return;
      this.ledger.remove(entry);
      this.updateInFlight();
      this.fail('submit');
      this.log.warn('submission failed', { err: redact((err as Error).message) });
      return;
    } finally {
      this.submitting.delete(entry.token);
    }
    this.schedulePoll(0);
  }

  /** Looks at the mailbox (and the MTA) now; concurrent calls share one look and ask for one more after it. */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.again = false;
        try {
          await this.checkOnce();
        } catch (err) {
          this.log.error('probe check failed', { err: (err as Error).message });
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async checkOnce(): Promise<void> {
    const name = this.route.name;
    const lookMs = this.lookMs();
    let found: FoundMessage[] | undefined;
    try {
      found = await withDeadline(lookMs, (signal) => this.checker.find(AbortSignal.any([signal, this.abort.signal])));
      if (this.fetchError) this.log.info('the mailbox can be read again');
      this.fetchError = undefined;
    } catch (err) {
      const message = redact((err as Error).message);
      if (message !== this.fetchError && !this.stopped) this.log.warn('cannot read the mailbox', { err: message });
      this.fetchError = message;
    }
    if (this.stopped) return;
    if (found) await this.handleFound(found);
    await this.askMta();
    const now = Date.now();
    for (const e of this.ledger.of(name)) {
      if (e.outcome === 'pending' && now - e.sentAt > this.route.timeoutMs && !this.submitting.has(e.token)) {
        this.decideFailed(e);
      } else if (e.outcome === 'failed' && now - e.sentAt > this.route.lateThresholdMs) {
        this.ledger.remove(e);
        this.log.warn('probe message lost: not seen within late_threshold', { sent: new Date(e.sentAt).toISOString() });
      }
    }
    this.updateInFlight();
    this.schedulePoll(this.route.pollIntervalMs);
  }

  private async handleFound(found: FoundMessage[]): Promise<void> {
    const name = this.route.name;
    const seen = new Set(found.map((f) => f.token));
    for (const f of found) {
      const e = this.ledger.of(name).find((x) => x.token === f.token);
      if (!e) {
        // Not ours any more: left by a crash before the state was saved, a failed submission, or lost long ago.
        this.log.info('deleting a probe message the probe no longer waits for');
        await this.remove(f, undefined);
        continue;
      }
      if (e.outcome !== 'found') this.count(e, f);
      await this.remove(f, e);
    }
    // Counted before, and now gone from the mailbox (deleted elsewhere, or the delete's answer was lost).
    for (const e of this.ledger.of(name)) if (e.outcome === 'found' && !seen.has(e.token)) this.ledger.remove(e);
  }

  private count(e: InFlight, f: FoundMessage): void {
    const route = this.route.name;
    const seconds = Math.max(0, f.seenAt - e.sentAt) / 1000;
    const inTime = f.seenAt - e.sentAt <= this.route.timeoutMs;
    if (e.outcome === 'pending' && !inTime) this.decideFailed(e); // its timeout passed between two looks
    this.metrics.roundtrip.observe({ route }, seconds);
    this.metrics.placement.inc({ route, folder: f.folder });
    const hops = hopSeconds(f.received, e.sentAt, f.seenAt, this.route.received);
    for (const hop of HOPS) if (hops[hop] !== undefined) this.metrics.hop.observe({ route, hop }, hops[hop]!);
    if (e.outcome === 'pending') {
      this.metrics.success.set({ route }, 1);
      this.metrics.lastSuccess.set({ route }, f.seenAt / 1000);
      this.log.debug('round trip', { seconds, folder: f.folder });
    } else {
      this.metrics.late.inc({ route });
      this.log.info('late probe message arrived', { seconds, folder: f.folder });
    }
    e.outcome = 'found';
    this.deferred.delete(e.token);
    this.ledger.save();
  }

  /** Deletes a found message (and WildDuck's Sent copy); a failure is counted and retried next look. */
  private async remove(f: FoundMessage, e: InFlight | undefined): Promise<void> {
    try {
      await withDeadline(this.lookMs(), (signal) => this.checker.delete(f, AbortSignal.any([signal, this.abort.signal])));
      if (e?.sentCopy && this.submitter.deleteCopy) {
        const copy = e.sentCopy;
        await withDeadline(MAX_LOOK_MS, (signal) => this.submitter.deleteCopy!(copy, signal));
      }
      if (e) this.ledger.remove(e);
    } catch (err) {
      if (this.stopped) return;
      this.fail('cleanup');
      this.log.warn('cannot delete a probe message', { err: redact((err as Error).message) });
    }
  }

  /** Asks the MTA about messages still pending: a deferral fails the round at the deliver stage at once. */
  private async askMta(): Promise<void> {
    const url = this.route.mtaUrl;
    if (!url) return;
    for (const e of this.ledger.of(this.route.name)) {
      if (e.outcome !== 'pending' || !e.queueId || this.deferred.has(e.token)) continue;
      try {
        const id = e.queueId;
        const status = await withDeadline(MAX_LOOK_MS, (signal) => zoneMtaStatus(url, id, AbortSignal.any([signal, this.abort.signal]), this.mtaRequest));
        if (status.status === 'deferred' && e.outcome === 'pending') {
          this.deferred.set(e.token, status.response ?? '');
          this.log.warn('the MTA deferred the probe message', { response: status.response });
          this.decideFailed(e);
        }
      } catch (err) {
        if (!this.stopped) this.log.debug('cannot ask the MTA', { err: (err as Error).message });
      }
    }
  }

  private lookMs(): number {
    return Math.min(Math.max(this.route.timeoutMs, MIN_LOOK_MS), MAX_LOOK_MS);
  }

  private decideFailed(e: InFlight): void {
    const stage: Stage = this.deferred.has(e.token) ? 'deliver' : this.fetchError ? 'fetch' : 'timeout';
    e.outcome = 'failed';
    this.ledger.save();
    this.fail(stage);
    if (stage === 'timeout') this.log.warn('probe message not seen within the timeout', { timeout_ms: this.route.timeoutMs });
  }

  private fail(stage: Stage): void {
    this.metrics.failures.inc({ route: this.route.name, stage });
    if (stage !== 'cleanup') this.metrics.success.set({ route: this.route.name }, 0);
  }

  private updateInFlight(): void {
    this.metrics.inFlight.set({ route: this.route.name }, this.ledger.of(this.route.name).filter((e) => e.outcome !== 'found').length);
  }

  private schedulePoll(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.pollTimer);
    if (this.ledger.of(this.route.name).length === 0) return; // nothing in flight: IDLE (or the next round) wakes us
    this.pollTimer = setTimeout(() => void this.check(), delayMs);
  }

  /** Resolves once nothing of this route is in flight (tests and the benchmark). */
  async settled(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.ledger.of(this.route.name).length || this.rounds.size) {
      if (Date.now() > until) throw new Error(`route ${this.route.name}: still in flight after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.roundTimer);
    clearTimeout(this.pollTimer);
    this.abort.abort();
    await Promise.allSettled([...this.rounds, this.checking]);
    await Promise.allSettled([this.checker.close(), this.submitter.close()]);
  }
}

/** Error texts of SMTP and IMAP libraries can quote the server's answer; none carries a password, but keep addresses out. */
export function redact(message: string): string {
  return message.replace(/[^\s<>"'@]+@[^\s<>"'@]+/g, '<address>').slice(0, 300);
}
