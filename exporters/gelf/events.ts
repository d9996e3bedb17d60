/**
 * From decoded GELF messages of WildDuck, haraka-plugin-wildduck (MX) and zonemta-wildduck (MTA) to mail
 * counters. Messages are recognised by their fields (`_mail_action`, flags set to 'yes'), never by the
 * component name, which operators may change. Every label value comes from an allowlist or a bounded set;
 * addresses, user names, user ids and IPs in the messages are never read into labels.
 * docs/gelf.md lists each metric with the log line that feeds it.
 */
import { Histogram, type Registry } from 'prom-client';
import { allowlisted, BoundedLabel } from '../kit/labels';
import type { GelfMessage } from './decode';
import { errorKind } from './errors';
import { Tally } from './tally';

/** WildDuck `_auth_result` values (lib/user-handler.js). */
export const AUTH_RESULTS = ['success', 'fail', 'error', 'ratelimited', 'unknown', 'disabled', 'suspended', 'scope_disabled'];
/** WildDuck authentication scopes (`_scope`). */
export const AUTH_SCOPES = ['imap', 'pop3', 'smtp', 'master'];
/**
 * haraka-plugin-wildduck reject codes (txn.notes.rejectCode), its default rspamd black/softlist symbols, and Haraka
 * plugins that deny often, under their Haraka 2 and Haraka 3 names (Haraka 3 loads dnsbl as dns-list, data.headers
 * as headers: plugins.js `deprecated`), plus DOMAIN_NOT_HOSTED (see NOT_HOSTED_CODE).
 */
export const KNOWN_REJECT_CODES = [
  'NO_SUCH_USER', 'MBOX_DISABLED', 'MBOX_FULL', 'RATE_LIMIT', 'DroppedByPolicy', 'max_data_exceeded', 'UNKNOWN',
  'ERRC01', 'ERRC02', 'ERRC03', 'ERRQ01', 'ERRQ04', 'ERRQ05', 'ERRQ06', 'ERRQ07',
  'DMARC_POLICY_REJECT', 'RBL_ZONE', 'DOMAIN_NOT_HOSTED',
  'rspamd', 'dnsbl', 'dns-list', 'spf', 'dkim', 'karma', 'helo.checks', 'data.headers', 'headers', 'mail_from.is_resolvable',
  'rcpt_to.in_host_list', 'access', 'limit', 'fcrdns', 'relay', 'tls', 'clamd', 'greylist', 'bounce',
  'uribl', 'early_talker', 'known-senders', 'spamassassin',
];
/**
 * haraka-plugin-wildduck sets no reject code when a recipient's domain is not in WildDuck's domain cache
 * (index.js real_rcpt_handler), so its [DENY:] line names the rejecting plugin instead: `wildduck`.
 */
const NOT_HOSTED_CODE = 'DOMAIN_NOT_HOSTED';
/** ZoneMTA bounce message types (plugins/core/email-bounce.js `bounceType`). */
export const BOUNCE_TYPES = ['failure', 'delayed'];
/** Buckets of the share of a daily recipient limit used. */
export const LIMIT_USED_BUCKETS = [0.1, 0.25, 0.5, 0.75, 0.9, 1];
/** ZoneMTA bounce categories (config/bounces.txt and lib/sender.js). */
export const BOUNCE_CATEGORIES = [
  'rate', 'block', 'spam', 'message', 'config', 'recipient', 'other', 'capacity', 'greylist', 'network', 'protocol',
  'auth', 'blacklist', 'envelope', 'virus', 'policy', 'dmarc', 'sender', 'dns', 'http',
];
/** Rspamd actions as haraka-plugin-rspamd reports them. */
export const SPAM_ACTIONS = ['no action', 'greylist', 'add header', 'rewrite subject', 'soft reject', 'reject'];
/** haraka-plugin-wildduck rate limit selectors. */
export const RATE_LIMIT_SELECTORS = ['rcpt', 'rcptIp', 'user'];
const MTA_ACTIONS = new Set(['queued', 'accepted', 'deferred', 'bounced', 'dropped']);
/** How many zone names are kept as labels when --gelf.zones is empty. */
export const MAX_SEEN_ZONES = 32;

export interface MailEventOptions {
  registry: Registry;
  /** Sending zones kept as labels; empty: the first MAX_SEEN_ZONES names seen. */
  zones: string[];
  /** Reject codes to keep as labels in addition to KNOWN_REJECT_CODES. */
  rejectCodes: string[];
}

const yes = (v: unknown) => v === 'yes';

export class MailEvents {
  private readonly authAttempts: Tally<'component' | 'scope' | 'result'>;
  private readonly imapConnections: Tally<'result'>;
  private readonly rcptAccepted: Tally;
  private readonly rcptRejected: Tally<'code'>;
  private readonly rcptUnknown: Tally;
  private readonly rcptOverQuota: Tally;
  private readonly rateLimitHits: Tally<'selector'>;
  private readonly stored: Tally;
  private readonly storedBytes: Tally;
  private readonly storeFailures: Tally;
  private readonly spamScore: Histogram;
  private readonly spamActions: Tally<'action'>;
  private readonly forwards: Tally<'component' | 'result'>;
  private readonly autoreplies: Tally<'component' | 'result'>;
  private readonly mtaMessages: Tally<'action' | 'zone' | 'category'>;
  private readonly dailyLimitHits: Tally;
  private readonly fromRewrites: Tally<'kind'>;
  private readonly mtaRcptAccepted: Tally;
  private readonly limitUsed: Histogram;
  private readonly apiMessages: Tally;
  private readonly apiRecipients: Tally;
  private readonly bounceMessages: Tally<'type' | 'result'>;
  private readonly downloadLimited: Tally<'service'>;
  private readonly rcptNotHosted: Tally;
  private readonly dropped: Tally;
  private readonly errors: Tally<'component' | 'kind'>;

  private readonly authResults = new Set(AUTH_RESULTS);
  private readonly authScopes = new Set(AUTH_SCOPES);
  private readonly rejectCodes: Set<string>;
  private readonly categories = new Set(BOUNCE_CATEGORIES);
  private readonly spamActionSet = new Set(SPAM_ACTIONS);
  private readonly selectors = new Set(RATE_LIMIT_SELECTORS);
  private readonly bounceTypes = new Set(BOUNCE_TYPES);
  private readonly zone: (raw: unknown) => string;

  constructor(opts: MailEventOptions) {
    const registry = opts.registry;
    const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) => new Tally<L>({ name, help, labelNames, registry });

    this.authAttempts = counter('gelf_auth_attempts_total', 'Authentication attempts logged by WildDuck and the MTA, by result.', ['component', 'scope', 'result']);
    this.imapConnections = counter('gelf_imap_connections_total', 'IMAP sessions established, or refused because the user reached the connection limit.', ['result']);
    this.rcptAccepted = counter('gelf_mx_recipients_accepted_total', 'Recipients the MX accepted at RCPT TO.');
    this.rcptRejected = counter('gelf_mx_recipients_rejected_total', 'Recipients the MX rejected or deferred, by reject code.', ['code']);
    this.rcptUnknown = counter('gelf_mx_recipients_unknown_total', 'Recipients the MX refused because no such user or address exists (also invalid SRS and addresses with *).');
    this.rcptNotHosted = counter('gelf_mx_recipients_not_hosted_total', "Recipients the MX refused because their domain is not hosted here (not in WildDuck's domain cache).");
    this.rcptOverQuota = counter('gelf_mx_recipients_over_quota_total', 'Recipients the MX refused because the mailbox is over quota.');
    this.rateLimitHits = counter('gelf_mx_rate_limit_hits_total', 'Recipients the MX deferred because a rate limit was reached, by limit selector.', ['selector']);
    this.stored = counter('gelf_mx_messages_stored_total', 'Message copies the MX stored into a mailbox (one per recipient user).');
    this.storedBytes = counter('gelf_mx_stored_bytes_total', 'Bytes of the message copies the MX stored into mailboxes.');
    this.storeFailures = counter('gelf_mx_store_failures_total', 'Accepted messages the MX failed to process or store (the sender is told to retry).');
    this.dropped = counter('gelf_mx_messages_dropped_total', "Message copies a recipient's filter dropped (DroppedByPolicy): the sender was told 250, nothing was stored.");
    this.spamScore = new Histogram({
      name: 'gelf_mx_spam_score',
      help: 'Rspamd score of each message copy the MX stored.',
      buckets: [-5, -2, 0, 2, 4, 6, 8, 10, 15, 20, 50],
      registers: [registry],
    });
    this.spamActions = counter('gelf_mx_spam_actions_total', 'Rspamd action of each message copy the MX stored.', ['action']);
    this.forwards = counter('gelf_forwards_total', 'Forwards queued (done), skipped as spam, refused by the forward rate limit, or failed.', ['component', 'result']);
    this.autoreplies = counter('gelf_autoreplies_total', 'Autoreplies (vacation messages) queued (sent) or failed.', ['component', 'result']);
    this.mtaMessages = counter('gelf_mta_messages_total', 'ZoneMTA message events: queued, accepted, deferred, bounced, dropped; by sending zone and bounce category.', ['action', 'zone', 'category']);
    this.dailyLimitHits = counter('gelf_mta_daily_limit_hits_total', 'Recipients the MTA refused because the sender reached the daily sending limit.');
    this.fromRewrites = counter('gelf_mta_from_rewrites_total', 'Messages whose envelope or header From the MTA rewrote because the user may not send as that address.', ['kind']);
    this.mtaRcptAccepted = counter('gelf_mta_recipients_accepted_total', 'Recipients the MTA accepted from authenticated users (their daily sending limit not reached).');
    this.limitUsed = new Histogram({
      name: 'gelf_daily_limit_used_ratio',
      help: "Share of the sender's daily recipient limit used, at each recipient the MTA or WildDuck's API accepted.",
      buckets: LIMIT_USED_BUCKETS,
      registers: [registry],
    });
    this.apiMessages = counter('gelf_api_messages_submitted_total', "Drafts WildDuck's API submitted for delivery.");
    this.apiRecipients = counter('gelf_api_recipients_submitted_total', "Recipients of the drafts WildDuck's API submitted for delivery.");
    this.bounceMessages = counter('gelf_mta_bounce_messages_total', 'Bounce messages (DSNs) ZoneMTA queued or failed to queue, by type (failure, delayed).', ['type', 'result']);
    for (const type of BOUNCE_TYPES) for (const result of ['queued', 'failed']) this.bounceMessages.inc({ type, result }, 0);
    this.downloadLimited = counter('gelf_download_rate_limited_total', "POP3 RETR/TOP and IMAP FETCH commands WildDuck refused because the user's download limit was reached.", ['service']);
    for (const service of ['imap', 'pop3']) this.downloadLimited.inc({ service }, 0);
    this.errors = counter('gelf_wildduck_errors_total', "Error lines of WildDuck's code (also run inside the MX and the MTA), by component and kind.", ['component', 'kind']);

    this.rejectCodes = new Set([...KNOWN_REJECT_CODES, ...opts.rejectCodes]);
    if (opts.zones.length > 0) {
      const zones = new Set(opts.zones);
      this.zone = (raw) => allowlisted(raw, zones);
    } else {
      const seen = new BoundedLabel(MAX_SEEN_ZONES);
      this.zone = (raw) => seen.value(raw);
    }
  }

  /** Counts one decoded message; `component` is its already bounded component label. */
  observe(msg: GelfMessage, component: string): void {
    const kind = errorKind(msg);
    if (kind) {
      this.errors.inc({ component, kind });
      // an exception copies whatever fields its error object had: count it as nothing else
      if (kind === 'exception') return;
    }
    const action = msg._mail_action;
    if (msg._auth_result !== undefined) {
      this.countWildDuckAuth(msg, component);
    } else if (action === 'auth') {
      this.countMtaAuth(msg, component);
    }
    if (msg._connection !== undefined && msg._service === 'imap') {
      if (msg._connection === 'establish') this.imapConnections.inc({ result: 'established' });
      else if (msg._connection === 'limited') this.imapConnections.inc({ result: 'limited' });
    }
    switch (action) {
      case undefined:
        // the "[QUEUED] <id>" line the MX logs for every forward or autoreply it queued
        if (yes(msg._queued)) {
          if (yes(msg._forwarded)) this.forwards.inc({ component, result: 'done' });
          else if (yes(msg._autoreply)) this.autoreplies.inc({ component, result: 'sent' });
        }
        return;
      case 'rcpt_to':
        return this.countRecipient(msg);
      case 'deny':
        return this.countDeny(msg);
      case 'submit_draft':
        this.apiMessages.inc();
        return;
      case 'queue_bounce':
        this.bounceMessages.inc({ type: allowlisted(msg._queue_bounce_type, this.bounceTypes), result: yes(msg._queue_bounce_queued) ? 'queued' : 'failed' });
        return;
      case 'pop3_retr':
      case 'pop3_top':
        if (msg._code === 'DownloadRateLimited') this.downloadLimited.inc({ service: 'pop3' });
        return;
      case 'fetch':
        if (msg._code === 'DownloadRateLimited') this.downloadLimited.inc({ service: 'imap' });
        return;
      case 'process':
        return this.countProcess(msg);
      case 'forward':
        return kind === 'forward_check' ? undefined : this.countForward(msg, component);
      case 'autoreply':
        if (yes(msg._failure)) this.autoreplies.inc({ component, result: 'failed' });
        return;
      case 'rw_header_from':
        this.fromRewrites.inc({ kind: 'header' });
        return;
      case 'rw_envelope_from':
        this.fromRewrites.inc({ kind: 'envelope' });
        return;
      default:
        if (typeof action === 'string' && MTA_ACTIONS.has(action)) {
          const category = action === 'deferred' || action === 'bounced' ? allowlisted(msg._bounce_category, this.categories) : 'none';
          this.mtaMessages.inc({ action, zone: this.zone(msg._zone), category });
        }
    }
  }

  /** `[AUTHFAIL] user` / `[AUTHOK] user` from WildDuck's user handler (also running inside the MTA). */
  private countWildDuckAuth(msg: GelfMessage, component: string): void {
    this.authAttempts.inc({
      component,
      scope: allowlisted(msg._scope, this.authScopes),
      result: allowlisted(msg._auth_result, this.authResults),
    });
  }

  /**
   * zonemta-wildduck's own `[AUTH FAIL:user]` / `[AUTH OK:user]`. They repeat an attempt the user handler already
   * logged as [AUTHFAIL]/[AUTHOK], except an XCLIENT login of an unknown user, which is an attempt of its own.
   * (A master password where 2FA requires an application password is refused inside the user handler, as one
   * [AUTHFAIL] with `_code: InvalidAuthScope`; the MTA's `_require_asp` is never 'yes' for the smtp scope.)
   */
  private countMtaAuth(msg: GelfMessage, component: string): void {
    if (yes(msg._auth_fail) && yes(msg._xclient)) this.authAttempts.inc({ component, scope: 'smtp', result: 'unknown' });
  }

  /** The share of the daily recipient limit a sender has used, from `_limit_sent` / `_limit_allowed` (no user label). */
  private observeLimit(msg: GelfMessage): void {
    const sent = Number(msg._limit_sent);
    const allowed = Number(msg._limit_allowed);
    if (Number.isFinite(sent) && Number.isFinite(allowed) && allowed > 0 && sent >= 0) this.limitUsed.observe(sent / allowed);
  }

  /**
   * `rcpt_to` lines of three senders: zonemta-wildduck's daily limit check (`_allowed` yes|no), WildDuck's API
   * submitting a draft (`_limit_sent`, no `_allowed`), and the MX (neither).
   */
  private countRecipient(msg: GelfMessage): void {
    if (yes(msg._daily) && yes(msg._rate_limit)) {
      this.dailyLimitHits.inc();
      return;
    }
    if (msg._allowed !== undefined) {
      if (yes(msg._allowed)) {
        this.mtaRcptAccepted.inc();
        this.observeLimit(msg);
      }
      return;
    }
    if (msg._limit_sent !== undefined) {
      this.apiRecipients.inc();
      this.observeLimit(msg);
      return;
    }
    if (yes(msg._rcpt_accepted)) this.rcptAccepted.inc();
    if (yes(msg._over_quota)) this.rcptOverQuota.inc();
    // `_failure` with `_rate_limit` means the limit could not be checked (Redis error), not that it was hit
    if (yes(msg._rate_limit) && !yes(msg._failure) && msg._selector !== undefined) {
      this.rateLimitHits.inc({ selector: allowlisted(msg._selector, this.selectors) });
    }
  }

  /**
   * haraka-plugin-wildduck's hook_deny: one [DENY:] line per refused recipient. Unknown recipients are counted here,
   * not from [RCPT TO:]: an address with `*` is refused before any [RCPT TO:] line is logged, and every refusal
   * for an unknown user, an invalid SRS address or a `*` ends as NO_SUCH_USER here.
   */
  private countDeny(msg: GelfMessage): void {
    let code = allowlisted(msg._reject_code, this.rejectCodes, 'UNKNOWN');
    if (msg._reject_code === 'wildduck') {
      code = NOT_HOSTED_CODE;
      this.rcptNotHosted.inc();
    } else if (code === 'NO_SUCH_USER') {
      this.rcptUnknown.inc();
    }
    this.rcptRejected.inc({ code });
  }

  private countProcess(msg: GelfMessage): void {
    if (yes(msg._stored)) {
      this.stored.inc();
      const size = Number(msg._stored_size);
      if (Number.isFinite(size) && size > 0) this.storedBytes.inc(undefined, size);
      // a score of 0 is deleted before sending (falsy fields are dropped): an action without a score means 0
      if (msg._spam_action !== undefined || msg._spam_score !== undefined) {
        const score = Number(msg._spam_score ?? 0);
        if (Number.isFinite(score)) this.spamScore.observe(score);
        this.spamActions.inc({ action: allowlisted(msg._spam_action, this.spamActionSet) });
      }
    } else if (yes(msg._dropped)) {
      this.dropped.inc();
    } else if (yes(msg._failure)) {
      this.storeFailures.inc();
    }
  }

  /**
   * Forward lines. In the MX a queued forward is counted from its "[QUEUED]" line (observe), so the
   * "[Queued forward]" and "[FRWRDOK]" lines that accompany it (they carry `_interface`) are not counted
   * again; WildDuck's own "[FRWRDOK]" (LMTP, no `_interface`) is.
   */
  private countForward(msg: GelfMessage, component: string): void {
    let result: string | undefined;
    if (yes(msg._forward_skipped) || msg._code === 'ESPAM') result = 'skipped_spam';
    else if (msg._code === 'ERATELIMIT') result = 'rate_limited';
    else if (yes(msg._failure) || msg._forwarded === 'no') result = 'failed';
    else if (yes(msg._forwarded) && msg._interface === undefined) result = 'done';
    if (result) this.forwards.inc({ component, result });
  }
}
