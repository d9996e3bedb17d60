/**
 * Counting ZoneMTA log entries (the `entry` of remotelog/log:entry, as every ZoneMTA process sends it over
 * `log.remote`) and the plugin's own events from sender processes. Runs in the master only.
 */
import * as msgpack from 'msgpack-js';
import type { PluginSettings } from './config';
import {
  BOUNCE_CATEGORIES,
  BoundedLabel,
  DestinationGroups,
  NONE,
  OTHER,
  RSPAMD_ACTIONS,
  TLS_VERSIONS,
  allowlisted,
  attemptLabel,
  isIpAddress,
  reasonSlug,
  responseClasses,
} from './labels';
import type { Metrics } from './metrics';

export type LogEntry = Record<string, unknown>;

/** Actions ZoneMTA and its core plugins log; anything else (a third-party plugin's remotelog) is `other`. */
const KNOWN_ACTIONS: ReadonlySet<string> = new Set([
  'QUEUED', 'NOQUEUE', 'DROP', 'ACCEPTED', 'DEFERRED', 'REJECTED', 'DELETED', 'QUEUE_POLL', 'QUEUE_BOUNCE', 'SPAMCHECK', 'VIRUSCHECK',
]);

/** Events this plugin sends from sender and receiver processes to the master, next to ZoneMTA's entries. */
export const EVENT_QUEUE_TIME = 'TINOMAIL_QUEUE_TIME';
export const EVENT_TLS_ERROR = 'TINOMAIL_TLS_ERROR';
export const EVENT_HOOK_ERROR = 'TINOMAIL_HOOK_ERROR';

export const HOOK_NAMES: ReadonlySet<string> = new Set(['log:entry', 'sender:fetch', 'sender:tlserror']);
const OUTCOMES: Record<string, string> = { ACCEPTED: 'accepted', DEFERRED: 'deferred', REJECTED: 'rejected' };
const FINAL_OUTCOMES: ReadonlySet<string> = new Set(['accepted', 'rejected']);
const BOUNCE_TYPES: ReadonlySet<string> = new Set(['failure', 'delayed']);
const TLS_MODES: ReadonlySet<string> = new Set(['tls', 'starttls']);

export class LogIngest {
  private readonly zones: BoundedLabel;
  private readonly sendingIps: BoundedLabel;
  private readonly interfaces: BoundedLabel;
  private readonly noqueueReasons: BoundedLabel;
  private readonly dropReasons: BoundedLabel;
  private readonly destinations: DestinationGroups;

  constructor(
    private readonly metrics: Metrics,
    settings: PluginSettings,
  ) {
    this.zones = new BoundedLabel(settings.maxZones);
    this.sendingIps = new BoundedLabel(settings.maxSendingIps, isIpAddress);
    this.interfaces = new BoundedLabel(settings.maxInterfaces);
    this.noqueueReasons = new BoundedLabel(settings.maxReasons);
    this.dropReasons = new BoundedLabel(settings.maxReasons);
    this.destinations = new DestinationGroups(settings.destinations);
  }

  /** One UDP datagram: a msgpack-js encoded entry. Anything else is counted as malformed and dropped. */
  datagram(payload: Buffer): void {
    let entry: unknown;
    try {
      entry = msgpack.decode(payload);
    } catch {
      entry = undefined;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || Buffer.isBuffer(entry)) {
      this.metrics.malformed.inc();
      return;
    }
    this.entry(entry as LogEntry);
  }

  entry(entry: LogEntry): void {
    const action = typeof entry.action === 'string' ? entry.action : '';
    switch (action) {
      case EVENT_QUEUE_TIME:
        return this.queueTime(entry);
      case EVENT_TLS_ERROR:
        this.metrics.tlsErrors.inc({ zone: this.zones.value(entry.zone), mode: allowlisted(entry.mode, TLS_MODES) });
        return;
      case EVENT_HOOK_ERROR:
        this.metrics.hookErrors.inc({ hook: allowlisted(entry.hook, HOOK_NAMES) });
        return;
    }

    this.metrics.logEntries.inc({ action: action ? (KNOWN_ACTIONS.has(action) ? action : OTHER) : NONE });
    switch (action) {
      case 'ACCEPTED':
      case 'DEFERRED':
      case 'REJECTED':
        return this.delivery(OUTCOMES[action]!, entry);
      case 'QUEUED':
        this.metrics.queued.inc({ interface: this.interfaces.value(entry.interface) });
        return;
      case 'NOQUEUE':
        this.metrics.notQueued.inc({
          interface: this.interfaces.value(entry.interface),
          reason: this.noqueueReasons.value(reasonSlug(entry)),
        });
        return;
      case 'DROP':
        this.metrics.dropped.inc({ reason: this.dropReasons.value(reasonSlug(entry)) });
        return;
      case 'SPAMCHECK':
        return this.spamCheck(entry);
      case 'QUEUE_BOUNCE':
        this.metrics.bouncesGenerated.inc({
          type: allowlisted(entry.bounceType, BOUNCE_TYPES),
          queued: entry.queued === 'yes' ? 'yes' : 'no',
        });
        return;
    }
  }

  private delivery(outcome: string, entry: LogEntry): void {
    const zone = this.zones.value(entry.zone);
    const destination = this.destinations.group(entry.to, entry.mx);
    this.metrics.deliveries.inc({ outcome, zone, sending_ip: this.sendingIps.value(entry.ip), destination });

    const { code, enhanced } = responseClasses(entry.response);
    this.metrics.smtpResponses.inc({ outcome, destination, response_class: code, enhanced_status: enhanced });

    if (outcome !== 'accepted') {
      this.metrics.failures.inc({ outcome, category: allowlisted(entry.category, BOUNCE_CATEGORIES), destination });
    }
    if (outcome === 'deferred') {
      this.metrics.deferralsByAttempt.inc({ zone, attempt: attemptLabel(entry.defcount) });
    }
    // `timer` is false when the message stream never finished (the attempt failed before or during DATA)
    if (typeof entry.timer === 'number' && Number.isFinite(entry.timer) && entry.timer >= 0) {
      this.metrics.deliveryDuration.observe({ outcome, zone }, entry.timer / 1000);
    }
    // `host` is the MX address connected to; without it no SMTP session (and no TLS decision) happened
    if (entry.host) {
      const secure = entry.secure === true || entry.tls === true;
      const version = secure ? allowlisted(entry.tlsVersion, TLS_VERSIONS) : NONE;
      this.metrics.tls.inc({
        outcome,
        zone,
        tls_version: secure && version === NONE ? 'unknown' : version,
        cert_verified: secure ? (entry.tlsAuthorized === true ? 'yes' : 'no') : NONE,
      });
    }
  }

  /**
   * plugins/core/rspamd: `result` is rspamd's action, `score` its score as a string (`toFixed(2)`). The `tests`
   * (rspamd's symbols with their scores) are not labels. A reject also logs NOQUEUE `spam` (or DROP with dropSpam).
   */
  private spamCheck(entry: LogEntry): void {
    this.metrics.spamChecks.inc({ action: allowlisted(entry.result, RSPAMD_ACTIONS, 'unknown') });
    const raw = entry.score;
    const score = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (Number.isFinite(score)) this.metrics.spamScore.observe(score);
  }

  private queueTime(event: LogEntry): void {
    const outcome = typeof event.outcome === 'string' && FINAL_OUTCOMES.has(event.outcome) ? event.outcome : undefined;
    const seconds = event.seconds;
    if (!outcome || typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
      this.metrics.malformed.inc();
      return;
    }
    this.metrics.queueTime.observe({ outcome, zone: this.zones.value(event.zone) }, seconds);
  }
}
