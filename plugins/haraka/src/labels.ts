/**
 * Pure functions that turn what Haraka and its plugins leave behind into bounded label values.
 * Nothing here sees an address, a user name or an IP as a label: outside values pass an allowlist
 * (or a first-N bound) and everything else becomes `other`. allowlisted() and BoundedLabel are the kit's
 * (exporters/kit/labels.ts), bundled into the plugin package at build time.
 */

import { allowlisted, OTHER } from '../../../exporters/kit/labels';

export { BoundedLabel, OTHER } from '../../../exporters/kit/labels';

/** SMTP verbs worth a label of their own; the client writes current_line, so anything else is `other`. */
const VERBS = new Set(['helo', 'ehlo', 'mail', 'rcpt', 'data', 'bdat', 'rset', 'quit', 'noop', 'vrfy', 'auth', 'starttls', 'proxy']);

/**
 * The SMTP stage a reply belongs to: `connect` before the first command, `data_end` for the reply to the
 * final dot, else the verb of the last command line (lower case, allowlisted). A line that is no verb
 * during an AUTH exchange (`inAuth`) is an AUTH continuation (base64), so `auth`.
 */
export function replyStage(currentLine: string | null | undefined, awaitingDataReply: boolean, inAuth: boolean): string {
  if (awaitingDataReply) return 'data_end';
  if (!currentLine) return 'connect';
  const verb = currentLine.trimStart().split(/[\s:]/, 1)[0]!.toLowerCase();
  if (VERBS.has(verb)) return verb;
  return inAuth ? 'auth' : 'unknown_command';
}

/**
 * Why Haraka's core (no plugin deny) answered >= 400. Matched on the fixed texts of Haraka 3.x connection.js;
 * a text this does not know still counts, as `other`, with its stage and code.
 */
export function coreRejectionReason(stage: string, code: number, text: string): string {
  if (code === 535 || code === 534 || code === 538 || (stage === 'auth' && code >= 500)) return 'auth_failed';
  if (/Authentication required/i.test(text)) return 'auth_required';
  if (/I cannot deliver mail for/i.test(text)) return 'relay_denied';
  if (/too big/i.test(text)) return 'message_too_big';
  if (/Queuing declined or disabled/i.test(text)) return 'queue_declined';
  if (/received headers/i.test(text)) return 'too_many_received_headers';
  if (/MIME parts/i.test(text)) return 'too_many_mime_parts';
  if (/Bare line-feed/i.test(text)) return 'bare_linefeed';
  if (/No valid recipients/i.test(text)) return 'no_valid_recipients';
  if (/timeout/i.test(text)) return 'timeout';
  if (/Internal Server Error/i.test(text)) return 'internal_error';
  if (/PROXY/.test(text)) return 'proxy';
  if (stage === 'data_end' && code >= 400 && code < 500) return 'queue_declined';
  if (code === 503) return 'bad_sequence';
  if (code === 500 || code === 501 || code === 502 || code === 504 || code === 521 || code === 555) return 'syntax';
  return OTHER;
}

/** A 3-digit SMTP reply code as label, or `other`. */
export function smtpCodeLabel(code: number): string {
  return Number.isInteger(code) && code >= 200 && code <= 599 ? String(code) : OTHER;
}

const HOOKS = new Set([
  'connect_init', 'lookup_rdns', 'connect', 'capabilities', 'unrecognized_command', 'helo', 'ehlo', 'quit', 'vrfy',
  'noop', 'rset', 'mail', 'rcpt', 'rcpt_ok', 'data', 'data_post', 'max_data_exceeded', 'queue', 'queue_outbound',
  'queue_ok', 'reset_transaction', 'disconnect', 'deny',
]);

export function hookLabel(hook: unknown): string {
  return allowlisted(hook, HOOKS, 'unknown');
}

const TLS_VERSIONS = new Set(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3', 'SSLv3']);

/** `none` for plain text, else the negotiated protocol as Node names it (TLSv1.3...). */
export function tlsLabel(enabled: boolean, version: unknown): string {
  if (!enabled) return 'none';
  return allowlisted(version, TLS_VERSIONS, 'unknown');
}

const AUTH_METHODS = new Set(['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2']);

export function authMethodLabel(method: unknown): string {
  return allowlisted(typeof method === 'string' ? method.toUpperCase() : method, AUTH_METHODS, 'unknown');
}

/**
 * SMTP AUTH outcomes from connection.results 'auth' as Haraka's auth_base leaves them:
 * `{ pass: [plugin...], method, fail: ['plugin/METHOD'...] }`.
 */
export function authOutcomes(result: Record<string, unknown> | undefined): Array<{ method: string; result: 'success' | 'failure' }> {
  if (!result) return [];
  const out: Array<{ method: string; result: 'success' | 'failure' }> = [];
  const pass = Array.isArray(result.pass) ? result.pass : [];
  for (let i = 0; i < pass.length; i++) out.push({ method: authMethodLabel(result.method), result: 'success' });
  const fail = Array.isArray(result.fail) ? result.fail : [];
  for (const f of fail) {
    const method = typeof f === 'string' && f.includes('/') ? f.slice(f.lastIndexOf('/') + 1) : undefined;
    out.push({ method: authMethodLabel(method), result: 'failure' });
  }
  return out;
}

const RSPAMD_ACTIONS = new Set(['no action', 'greylist', 'add header', 'rewrite subject', 'soft reject', 'reject', 'discard', 'quarantine']);

export function rspamdActionLabel(action: unknown): string {
  return allowlisted(action, RSPAMD_ACTIONS, 'none');
}

/** haraka-plugin-rspamd `err` entries: 'timeout', a socket error message, 'parse failure: ...', or rspamd's error text. */
export function rspamdErrorReason(err: unknown): string {
  const s = String(err);
  if (s === 'timeout') return 'timeout';
  if (/^parse failure/.test(s)) return 'parse';
  if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|socket hang up/i.test(s)) return 'connection';
  return OTHER;
}

const RSPAMD_SKIPS = new Set(['authed', 'relay', 'local_ip', 'private_ip']);

export function rspamdSkipReason(skip: unknown): string {
  return allowlisted(skip, RSPAMD_SKIPS, 'unknown');
}

export type AuthMethod = 'spf' | 'dkim' | 'dmarc';
export interface SenderAuthResult {
  method: AuthMethod;
  result: string;
}

const AUTH_RESULTS = new Set(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy']);

/**
 * SPF/DKIM/DMARC results from the Authentication-Results fragments plugins add through
 * connection.auth_results() ('spf=pass smtp.mailfrom=...', 'dkim=fail header.d=...', 'dmarc=pass ...').
 */
export function parseAuthenticationResults(fragments: unknown): SenderAuthResult[] {
  if (!Array.isArray(fragments)) return [];
  const out: SenderAuthResult[] = [];
  for (const fragment of fragments) {
    if (typeof fragment !== 'string') continue;
    const m = /^\s*(spf|dkim|dmarc)\s*=\s*([A-Za-z]+)/i.exec(fragment);
    if (!m) continue;
    out.push({ method: m[1]!.toLowerCase() as AuthMethod, result: allowlisted(m[2]!.toLowerCase(), AUTH_RESULTS) });
  }
  return out;
}

/** Rspamd symbols that carry an SPF/DKIM/DMARC outcome (rspamd 3 default symbol names). */
const RSPAMD_AUTH_SYMBOLS: Readonly<Record<string, SenderAuthResult>> = {
  R_SPF_ALLOW: { method: 'spf', result: 'pass' },
  R_SPF_FAIL: { method: 'spf', result: 'fail' },
  R_SPF_SOFTFAIL: { method: 'spf', result: 'softfail' },
  R_SPF_NEUTRAL: { method: 'spf', result: 'neutral' },
  R_SPF_NA: { method: 'spf', result: 'none' },
  R_SPF_DNSFAIL: { method: 'spf', result: 'temperror' },
  R_SPF_PERMFAIL: { method: 'spf', result: 'permerror' },
  R_DKIM_ALLOW: { method: 'dkim', result: 'pass' },
  R_DKIM_REJECT: { method: 'dkim', result: 'fail' },
  R_DKIM_NA: { method: 'dkim', result: 'none' },
  R_DKIM_TEMPFAIL: { method: 'dkim', result: 'temperror' },
  R_DKIM_PERMFAIL: { method: 'dkim', result: 'permerror' },
  DMARC_POLICY_ALLOW: { method: 'dmarc', result: 'pass' },
  DMARC_POLICY_ALLOW_WITH_FAILURES: { method: 'dmarc', result: 'pass' },
  DMARC_POLICY_REJECT: { method: 'dmarc', result: 'fail' },
  DMARC_POLICY_QUARANTINE: { method: 'dmarc', result: 'fail' },
  DMARC_POLICY_SOFTFAIL: { method: 'dmarc', result: 'fail' },
  DMARC_NA: { method: 'dmarc', result: 'none' },
  DMARC_DNSFAIL: { method: 'dmarc', result: 'temperror' },
  DMARC_BAD_POLICY: { method: 'dmarc', result: 'permerror' },
};

/** Outcomes from the names of an rspamd result's symbols (haraka-plugin-rspamd stores them keyed by name). */
export function rspamdAuthResults(symbols: unknown): SenderAuthResult[] {
  if (!symbols || typeof symbols !== 'object') return [];
  const out: SenderAuthResult[] = [];
  for (const name of Object.keys(symbols)) {
    const r = RSPAMD_AUTH_SYMBOLS[name];
    if (r) out.push(r);
  }
  return out;
}

/** txn.notes.rejectCode values of haraka-plugin-wildduck 6 (lib/hooks + index.js) and its usual blacklist symbols. */
const WILDDUCK_CODES = new Set([
  'NO_SUCH_USER', 'MBOX_DISABLED', 'MBOX_FULL', 'RATE_LIMIT', 'ERRC01', 'ERRC02', 'ERRC03',
  'ERRQ01', 'ERRQ04', 'ERRQ05', 'ERRQ06', 'ERRQ07', 'DMARC_POLICY_REJECT', 'RBL_ZONE', 'DroppedByPolicy',
]);

export function wildduckCodeLabel(code: unknown): string {
  return allowlisted(code, WILDDUCK_CODES, 'none');
}
