/**
 * WildDuck's error lines, by a bounded kind. WildDuck's code (also running inside the MX and the MTA, which load its
 * handlers) logs internal failures as GELF lines that no mail counter sees: a server or bind error, an uncaught
 * exception, a failed health check, a FETCH that broke off, a message stored unencrypted, storage bookkeeping that
 * went wrong. Each is recognised by the fields its log call sets, or, where it sets none, by its `[TAG]`.
 * Upstream files are named per kind; docs/gelf.md lists them.
 */
import type { GelfMessage } from './decode';

export const ERROR_KINDS = [
  'exception', 'imap_server', 'bind', 'health_mongodb', 'health_redis', 'fetch', 'search', 'append', 'encrypt',
  'quota', 'attachment', 'copy', 'certificate', 'forward_check',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** `_mail_action` values of WildDuck's bookkeeping failures (lib/handlers/on-copy.js, on-append.js, lib/message-handler.js). */
const ACTION_KINDS = new Map<string, ErrorKind>([
  ['encrypt_fail', 'encrypt'],
  ['append_fail', 'append'],
  ['copy_attach_fail', 'attachment'],
  ['copy_ref_fail', 'attachment'],
  ['move_attach_fail', 'attachment'],
  ['move_quota_fail', 'quota'],
  ['copy_flag_fail', 'copy'],
]);

/** `_tnx` values of error lines (imap.js, lib/handlers/on-fetch.js, on-search.js). */
const TNX_KINDS = new Map<string, ErrorKind>([['server', 'imap_server'], ['bind', 'bind'], ['fetch', 'fetch'], ['search', 'search']]);

const text = (v: unknown) => (typeof v === 'string' ? v : '');

/** The kind of a WildDuck error line, or undefined when the message is not one. */
export function errorKind(msg: GelfMessage): ErrorKind | undefined {
  // lib/errors.js: an uncaught error, whatever other fields it copied from the error object
  if (msg._exception === 'yes') return 'exception';
  const action = msg._mail_action;
  if (typeof action === 'string') {
    const kind = ACTION_KINDS.get(action);
    if (kind) return kind;
    // lib/message-handler.js: the same `quota` action as every quota change, only the tag tells the failure
    if (action === 'quota' && text(msg.short_message).includes('[QUOTAFAIL]')) return 'quota';
    // lib/filter-handler.js: the forward rate-limit check failed; the forward still goes out and [FRWRDOK] follows
    if (action === 'forward' && text(msg.short_message).includes('[FRWRDFAIL] Skipped forwarding due to database error')) return 'forward_check';
    return undefined;
  }
  if (typeof msg._tnx === 'string') {
    // imap.js: [IMAPBINDFAIL] is `_tnx: bind`; other `_tnx` values (send, sni, error) are per-connection noise
    return TNX_KINDS.get(msg._tnx);
  }
  // lib/acme/certs.js: "SNI cert provisioning failed for <domain>" (the success line has _cert_result: success)
  if (msg._cert_action === 'provision' && msg._cert_result !== 'success') return 'certificate';
  // lib/api/health.js: the four [HEALTH] lines carry no fields but their text
  const short = text(msg.short_message);
  if (short.includes('[HEALTH]')) return /redis/i.test(short) ? 'health_redis' : 'health_mongodb';
  return undefined;
}
