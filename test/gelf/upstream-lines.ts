/**
 * GELF messages shaped exactly as the upstream senders build them (WildDuck 1.51.1, haraka-plugin-wildduck 6.0.1
 * index.js, zonemta-wildduck 1.32.31 index.js; each group names the upstream file it mirrors): the fields of each
 * loggelf() call, then what each loggelf wrapper adds (short_message prefix, host, facility, timestamp,
 * _component, the MX's _interface) and removes (every falsy field). Like upstream, the wrappers change the object
 * they are given, which matters where upstream logs one object twice (lib/filter-handler.js). WildDuck, Haraka and
 * ZoneMTA cannot run here, so these literals stand in for them; each comes with the mail samples it must produce.
 */
type Fields = Record<string, unknown>;

function loggelf(component: string, msg: Fields, extra: Fields = {}): Fields {
  const prefix = component.toUpperCase();
  if (typeof msg.short_message !== 'string' || !msg.short_message.startsWith(prefix)) {
    msg.short_message = `${prefix} ${msg.short_message ?? ''}`;
  }
  Object.assign(msg, { facility: component, host: 'mail1.example.com', timestamp: 1763900000.123, _component: component }, extra);
  for (const key of Object.keys(msg)) if (!msg[key]) delete msg[key];
  return { ...msg };
}

const hasValue = (v: unknown) => (typeof v === 'string' ? v.trim().length > 0 : !!v);
/** WildDuck 1.51.1 lib/loggelf-message.js: without full_message, _error moves to _failure_msg (kept if already set). */
function normalizeLoggelfMessage(msg: Fields): Fields {
  if (hasValue(msg._error) && !hasValue(msg.full_message)) {
    if (!hasValue(msg._failure_msg)) msg._failure_msg = msg._error;
    delete msg._error;
  }
  return msg;
}
/** WildDuck's loggelf (api.js, imap.js, lmtp.js, pop3.js, acme.js). */
const wildduck = (f: Fields) => loggelf('wildduck', normalizeLoggelfMessage(f));
/** haraka-plugin-wildduck's plugin.loggelf: component 'mx', `_interface` defaults to 'mx', `_error` kept. */
const mx = (f: Fields) => loggelf('mx', f, { _interface: f._interface || 'mx' });
/** zonemta-wildduck's loggelf: component 'mta'. */
const mta = (f: Fields) => loggelf('mta', f);

/**
 * haraka-plugin-wildduck logs `rcpt.address` as the recipient, but Haraka's Address (address-rfc2821) has
 * `address()` as a method: `_to` holds a function, which JSON.stringify (npm gelf) drops, and the [RCPT TO:]
 * short_message holds the function's source text. This stands in for it.
 */
const rcptAddress = function address(set?: string) {
  return set ?? '';
};
const RCPT = `[RCPT TO:${String(rcptAddress)}] 5B1C2A3F-1`;
/** haraka-dsn DSN fields as hook_deny copies them (`_error` = msg, `_error_<key>` for the others). */
function dsn(code: number, sub: number, det: number, defaultMsg: string, msg?: string): Fields {
  return { _error: msg, _error_code: code, _error_cls: Math.floor(code / 100), _error_sub: sub, _error_det: det, _error_default_msg: defaultMsg, _error_reply: `${Math.floor(code / 100)}.${sub}.${det} ${msg ?? defaultMsg}` };
}

const USER = { _username: 'alice@example.com', _domain: 'example.com', _ip: '192.0.2.10', _sess: 'sess1' };
const TXN = { _from: 'bob@example.net', _queue_id: '5B1C2A3F-1', _ip: '198.51.100.7', _proto: 'ESMTPS', _subject: 'Hello' };

export interface UpstreamLine {
  name: string;
  message: Fields;
  /** Non-zero mail samples this one message produces ('' metric lines of the gelf_ mail families). */
  samples: string[];
}

export const UPSTREAM_LINES: UpstreamLine[] = [
  // WildDuck: authentication (lib/user-handler.js)
  { name: 'WildDuck [AUTHFAIL] wrong password', message: wildduck({ short_message: '[AUTHFAIL] alice@example.com', _error: 'Authentication failed', _auth_result: 'fail', _scope: 'imap', ...USER }), samples: ['gelf_auth_attempts_total{component="wildduck",scope="imap",result="fail"} 1'] },
  { name: 'WildDuck [AUTHFAIL] rate limited', message: wildduck({ short_message: '[AUTHFAIL] alice@example.com', _error: 'Rate limited', _auth_result: 'ratelimited', _scope: 'pop3', ...USER }), samples: ['gelf_auth_attempts_total{component="wildduck",scope="pop3",result="ratelimited"} 1'] },
  { name: 'WildDuck [AUTHFAIL] disabled account', message: wildduck({ short_message: '[AUTHFAIL] alice@example.com', _auth_result: 'disabled', _scope: 'master', ...USER }), samples: ['gelf_auth_attempts_total{component="wildduck",scope="master",result="disabled"} 1'] },
  { name: 'WildDuck [AUTHOK]', message: wildduck({ short_message: '[AUTHOK] alice@example.com', _mail_action: 'auth', _auth_result: 'success', _user: '65a1b2c3d4e5f6a7b8c9d0e1', _password_type: 'master', _scope: 'imap', ...USER }), samples: ['gelf_auth_attempts_total{component="wildduck",scope="imap",result="success"} 1'] },
  // WildDuck: IMAP connection limit (lib/handlers/on-auth.js, imap-core/lib/imap-connection.js)
  { name: 'WildDuck [CONNSTART]', message: wildduck({ short_message: '[CONNSTART] Connection established for 65a1b2c3d4e5f6a7b8c9d0e1', _connection: 'establish', _service: 'imap', _sess: 's1', _user: '65a1b2c3d4e5f6a7b8c9d0e1', _cid: 'c1', _ip: '192.0.2.10', _limit: 15 }), samples: ['gelf_imap_connections_total{result="established"} 1'] },
  { name: 'WildDuck [CONNFAILED]', message: wildduck({ short_message: '[CONNFAILED] Connection failed for 65a1b2c3d4e5f6a7b8c9d0e1', _connection: 'limited', _service: 'imap', _sess: 's1', _user: '65a1b2c3d4e5f6a7b8c9d0e1', _ip: '192.0.2.10', _limit: 15 }), samples: ['gelf_imap_connections_total{result="limited"} 1'] },
  { name: 'WildDuck [CONNRELEASE]', message: wildduck({ short_message: '[CONNRELEASE] Connection released for 65a1b2c3d4e5f6a7b8c9d0e1', _connection: 'release', _service: 'imap', _user: '65a1b2c3d4e5f6a7b8c9d0e1' }), samples: [] },
  { name: 'WildDuck IMAP FETCH', message: wildduck({ short_message: '[FETCH]', _mail_action: 'fetch', _user: 'u1', _mailbox: 'm1', _sess: 's1', _message_count: 3 }), samples: [] },
  // WildDuck: forwarding and autoreplies in its own filter handler (LMTP: no _interface)
  { name: 'WildDuck [FRWRDOK]', message: wildduck({ short_message: '[FRWRDOK] Scheduled forwarding', _user: 'u1', _mail_action: 'forward', _sender: 'bob@example.net', _recipient: 'alice@example.com', _target_address: 'carol@example.org', _target_queue_id: 'q1', _forwarded: 'yes' }), samples: ['gelf_forwards_total{component="wildduck",result="done"} 1'] },
  { name: 'WildDuck [FRWRDFAIL] spam', message: wildduck({ short_message: '[FRWRDFAIL] Skipped forwarding due to spam', _user: 'u1', _mail_action: 'forward', _error: 'Skipped forwarding due to spam', _code: 'ESPAM' }), samples: ['gelf_forwards_total{component="wildduck",result="skipped_spam"} 1'] },
  { name: 'WildDuck [FRWRDFAIL] rate limit', message: wildduck({ short_message: '[FRWRDFAIL] Skipped forwarding due to rate limiting', _user: 'u1', _mail_action: 'forward', _error: 'Skipped forwarding due to rate limiting', _code: 'ERATELIMIT', _forwarded: 'no' }), samples: ['gelf_forwards_total{component="wildduck",result="rate_limited"} 1'] },
  { name: 'WildDuck [AUTOREPLYFAIL]', message: wildduck({ short_message: '[AUTOREPLYFAIL] Failed to queue autoreply', _queue_id: 'q1', _error: 'boom', _failure: 'yes', _mail_action: 'autoreply', _user: 'u1', _to: 'bob@example.net' }), samples: ['gelf_autoreplies_total{component="wildduck",result="failed"} 1'] },
  // WildDuck lib/filter-handler.js ~831-910: one logdata object, logged by [FRWRDFAIL] when the forward rate-limit
  // check fails (database error) and logged again, changed, by [FRWRDOK] as the forward still goes out
  ...forwardAfterFailedCheck('wildduck', wildduck),
  // WildDuck: error lines, counted by kind
  { name: 'WildDuck [IMAPERROR] (imap.js server error)', message: wildduck({ short_message: '[IMAPERROR] read ECONNRESET', full_message: 'Error: read ECONNRESET\n    at x', _error: 'read ECONNRESET', _code: 'ECONNRESET', _tnx: 'server', _service: 'imap' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="imap_server"} 1'] },
  { name: 'WildDuck [IMAPBINDFAIL] (imap.js)', message: wildduck({ short_message: '[IMAPBINDFAIL] listen EADDRINUSE: address already in use 0.0.0.0:993', full_message: 'Error: listen EADDRINUSE', _error: 'listen EADDRINUSE: address already in use 0.0.0.0:993', _code: 'EADDRINUSE', _tnx: 'bind', _host: '0.0.0.0', _port: 993, _secure: 'yes' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="bind"} 1'] },
  { name: 'WildDuck [IMAPSENDERR] (per-connection noise, not counted)', message: wildduck({ short_message: '[IMAPSENDERR] write EPIPE', _error: 'write EPIPE', _code: 'EPIPE', _tnx: 'send', _cid: 'c1', _sess: 's1' }), samples: [] },
  { name: 'WildDuck [Exception] (lib/errors.js, copies the error object, here one with a tnx and a code)', message: exception({ message: 'Cannot read properties of undefined', code: 'DownloadRateLimited', tnx: 'fetch', errno: 0 }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="exception"} 1'] },
  { name: 'WildDuck [HEALTH] MongoDB down (lib/api/health.js)', message: wildduck({ short_message: '[HEALTH] MongoDb is down. MongoDb is not connected. PING not ok' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="health_mongodb"} 1'] },
  { name: 'WildDuck [HEALTH] MongoDB not writeable', message: wildduck({ short_message: '[HEALTH] could not write to MongoDb. MongoDB is not writeable, cannot write document to collection `health` and delete the document at that path.' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="health_mongodb"} 1'] },
  { name: 'WildDuck [HEALTH] Redis down', message: wildduck({ short_message: '[HEALTH] Redis is down. PING to Redis failed.' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="health_redis"} 1'] },
  { name: 'WildDuck [HEALTH] Redis not writeable', message: wildduck({ short_message: '[HEALTH] Redis is not writeable/readable. Could not set hashkey `health` in redis, failed to get the key and/or delete the key.' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="health_redis"} 1'] },
  { name: 'WildDuck [FETCHERR] (lib/handlers/on-fetch.js)', message: wildduck({ short_message: '[FETCHERR] cursor killed', full_message: 'MongoError: cursor killed', _error: 'cursor killed', _code: 'CursorKilled', _tnx: 'fetch', _sess: 's1', _user: 'u1', _mailbox: 'm1', _mailbox_path: 'INBOX', _query: '{}' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="fetch"} 1'] },
  { name: 'WildDuck [FETCHFAIL] (lib/handlers/on-fetch.js)', message: wildduck({ short_message: '[FETCHFAIL] stream error', full_message: 'Error: stream error', _error: 'stream error', _tnx: 'fetch', _sess: 's1', _user: 'u1', _mailbox: 'm1', _message: 'id1', _uid: 7, _rows: 3 }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="fetch"} 1'] },
  { name: 'WildDuck [SEARCHFAIL] (lib/handlers/on-search.js)', message: wildduck({ short_message: '[SEARCHFAIL] operation exceeded time limit', _stack: 'MongoServerError: x', _error: 'operation exceeded time limit', _code: 50, _tnx: 'search', _sess: 's1', _user: 'u1', _mailbox: 'm1', _query: '{}' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="search"} 1'] },
  { name: 'WildDuck [APPENDFAIL] (lib/handlers/on-append.js)', message: wildduck({ short_message: '[APPENDFAIL] Unhandled error during IMAP APPEND', _mail_action: 'append_fail', _user: 'u1', _error: 'boom', _code: 'UnhandledError', _sess: 's1', _source: 'imap_append' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="append"} 1'] },
  { name: 'WildDuck [ENCRYPTFAIL] (lib/message-handler.js)', message: wildduck({ short_message: '[ENCRYPTFAIL] No PGP public key configured', _mail_action: 'encrypt_fail', _error: 'No PGP public key', _source: 'pgp_encrypt' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="encrypt"} 1'] },
  { name: 'WildDuck [ENCRYPTSKIP] (stored unencrypted by choice, not counted)', message: wildduck({ short_message: '[ENCRYPTSKIP] Encryption returned false, message stored unencrypted', _mail_action: 'encrypt_skip', _user: 'u1' }), samples: [] },
  { name: 'WildDuck [QUOTA] + (an ordinary quota change, not counted)', message: wildduck({ short_message: '[QUOTA] +', _mail_action: 'quota', _user: 'u1', _inc: 2048, _storage_used: 1048576, _mailbox: 'm1', _mailbox_path: 'INBOX' }), samples: [] },
  { name: 'WildDuck [QUOTAFAIL] (lib/message-handler.js)', message: wildduck({ short_message: '[QUOTAFAIL] Failed to adjust storageUsed after a message date update', _mail_action: 'quota', _user: 'u1', _mailbox: 'm1', _inc: -12, _error: 'not primary' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="quota"} 1'] },
  { name: 'WildDuck [MOVEQUOTAFAIL]', message: wildduck({ short_message: '[MOVEQUOTAFAIL] Failed to adjust storageUsed after encrypted move', _mail_action: 'move_quota_fail', _user: 'u1', _mailbox: 'm1', _delta: 30, _error: 'x', _code: 'QuotaUpdateError', _source: 'imap_move' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="quota"} 1'] },
  { name: 'WildDuck [COPYATTACHFAIL] (lib/handlers/on-copy.js)', message: wildduck({ short_message: '[COPYATTACHFAIL] Failed to release attachments after failed IMAP COPY insert', _mail_action: 'copy_attach_fail', _user: 'u1', _error: 'x', _code: 'AttachmentReleaseError', _sess: 's1', _source: 'imap_copy' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="attachment"} 1'] },
  { name: 'WildDuck [COPYREFFAIL]', message: wildduck({ short_message: '[COPYREFFAIL] Failed to increment attachment refcount during IMAP COPY', _mail_action: 'copy_ref_fail', _user: 'u1', _error: 'x', _code: 'AttachmentUpdateError', _sess: 's1', _source: 'imap_copy' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="attachment"} 1'] },
  { name: 'WildDuck [MOVEATTACHFAIL] (lib/message-handler.js)', message: wildduck({ short_message: '[MOVEATTACHFAIL] Failed to release source attachments after encrypted move', _mail_action: 'move_attach_fail', _user: 'u1', _mailbox: 'm1', _mailbox_path: 'Archive', _error: 'x', _code: 'AttachmentReleaseError', _source: 'imap_move' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="attachment"} 1'] },
  { name: 'WildDuck [COPYFLAGFAIL]', message: wildduck({ short_message: '[COPYFLAGFAIL] Failed to mark source copied after successful IMAP COPY', _mail_action: 'copy_flag_fail', _user: 'u1', _error: 'x', _code: 'CopyFlagError', _sess: 's1', _source: 'imap_copy' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="copy"} 1'] },
  { name: 'WildDuck SNI cert provisioning failed, no response (lib/acme/certs.js)', message: wildduck({ short_message: 'SNI cert provisioning failed for mail.example.com', _sni_servername: 'mail.example.com', _cert_id: 'c1', _cert_action: 'provision', _cert_error: 'No response', _cert_error_code: 'NoResponse' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="certificate"} 1'] },
  { name: 'WildDuck SNI cert provisioning failed, ACME error without a message', message: wildduck({ short_message: 'SNI cert provisioning failed for mail.example.com', _sni_servername: 'mail.example.com', _cert_id: 'c1', _cert_action: 'provision', _cert_error: '', _cert_error_code: 'ENOTFOUND' }), samples: ['gelf_wildduck_errors_total{component="wildduck",kind="certificate"} 1'] },
  { name: 'WildDuck SNI cert provisioned (not counted)', message: wildduck({ short_message: 'SNI cert provisioned for mail.example.com', _sni_servername: 'mail.example.com', _cert_id: 'c1', _cert_action: 'provision', _cert_result: 'success', _cert_expires: '2027-03-01T00:00:00.000Z' }), samples: [] },
  // WildDuck API: submitting a draft (lib/api/messages.js ~3752-3788): one [RCPT TO: ] line per recipient, then [SUBMIT] draft
  { name: 'WildDuck API [RCPT TO: ] of a submitted draft', message: wildduck({ short_message: '[RCPT TO: carol@example.org] sess9', _mail_action: 'rcpt_to', _user: 'u1', _queue_id: '18f3c', _sent_mailbox: 'm2', _from: 'alice@example.com', _to: 'carol@example.org', _sess: 'sess9', _ip: '192.0.2.10', _limit_allowed: 200, _limit_sent: 150 }), samples: ['gelf_api_recipients_submitted_total 1', 'gelf_daily_limit_used_ratio_count 1', 'gelf_daily_limit_used_ratio_sum 0.75'] },
  { name: 'WildDuck API [SUBMIT] draft', message: wildduck({ short_message: '[SUBMIT] draft', _mail_action: 'submit_draft', _user: 'u1', _queue_id: '18f3c', _from: 'alice@example.com', _to: 'carol@example.org,dave@example.org', _sess: 'sess9', _ip: '192.0.2.10' }), samples: ['gelf_api_messages_submitted_total 1'] },
  // WildDuck: download limits (pop3.js onFetchMessage then lib/pop3/connection.js; lib/handlers/on-fetch.js then imap-core fetch.js)
  { name: 'WildDuck [POP3RETR] error DownloadRateLimited', message: wildduck({ short_message: '[POP3RETR] error', _mail_action: 'pop3_retr', _message_id: 'id1', _message_uid: 4, _mailbox: 'm1', _message_size: 5000, _username: 'alice', _user: 'u1', _sess: 's2', _ip: '192.0.2.10', _error: 'Download was rate limited', _code: 'DownloadRateLimited', _response: 'NO', _responseMessage: 'Download was rate limited. Try again in 3 hours.', _ratelimit_ttl: 10800 }), samples: ['gelf_download_rate_limited_total{service="pop3"} 1'] },
  { name: 'WildDuck [POP3TOP] error DownloadRateLimited', message: wildduck({ short_message: '[POP3TOP] error', _mail_action: 'pop3_top', _message_id: 'id1', _user: 'u1', _sess: 's2', _error: 'Download was rate limited', _code: 'DownloadRateLimited', _response: 'NO', _ratelimit_ttl: 10800 }), samples: ['gelf_download_rate_limited_total{service="pop3"} 1'] },
  { name: 'WildDuck [POP3RETR] error, message gone (not a limit)', message: wildduck({ short_message: '[POP3RETR] error', _mail_action: 'pop3_retr', _message_id: 'id1', _user: 'u1', _sess: 's2', _error: 'Message does not exist or is already deleted' }), samples: [] },
  { name: 'WildDuck IMAP [FETCH] DownloadRateLimited', message: wildduck({ short_message: '[FETCH]', _mail_action: 'fetch', _user: 'u1', _mailbox: 'm1', _sess: 's1', _mark_seen: 'no', _is_uid: 'yes', _message_count: 3, _query_time: 4, _error: 'Download was rate limited', _code: 'DownloadRateLimited', _response: 'NO', _ratelimit_ttl: 600 }), samples: ['gelf_download_rate_limited_total{service="imap"} 1'] },

  // MX (haraka-plugin-wildduck): RCPT TO resolutions
  { name: 'MX [RCPT TO] accepted', message: mx({ short_message: RCPT, _mail_action: 'rcpt_to', _to: rcptAddress, ...TXN, _user: 'u1', _rcpt_accepted: 'yes', _default_address: '' }), samples: ['gelf_mx_recipients_accepted_total 1'] },
  { name: 'MX [RCPT TO] unknown user', message: mx({ short_message: RCPT, _mail_action: 'rcpt_to', _to: rcptAddress, ...TXN, _error: 'no such user', _unknown_user: 'yes' }), samples: [] },
  { name: 'MX [RCPT TO] over quota', message: mx({ short_message: RCPT, _mail_action: 'rcpt_to', _to: rcptAddress, ...TXN, _user: 'u1', _error: 'user over quota', _over_quota: 'yes', _max_quota: 1073741824, _quota_source: 'config', _storage_used: 1073741900 }), samples: ['gelf_mx_recipients_over_quota_total 1'] },
  { name: 'MX [RCPT TO] rcptIp rate limit hit', message: mx({ short_message: RCPT, _mail_action: 'rcpt_to', _to: rcptAddress, ...TXN, _rate_limit: 'yes', _selector: 'rcptIp', _error: 'too many attempts', _user: 'u1' }), samples: ['gelf_mx_rate_limit_hits_total{selector="rcptIp"} 1'] },
  { name: 'MX [RCPT TO] rate limit check failed (Redis error)', message: mx({ short_message: RCPT, _mail_action: 'rcpt_to', _to: rcptAddress, ...TXN, _rate_limit: 'yes', _selector: 'rcpt', _failure_msg: 'rate limit check failed', _failure: 'yes', _err_code: 'ECONNREFUSED' }), samples: [] },
  { name: 'MX [RCPT TO] forwarding address over its limit', message: mx({ short_message: RCPT, _mail_action: 'rcpt_to', _to: rcptAddress, ...TXN, _forward: 'yes', _rate_limit: 'yes', _selector: 'user', _error: 'too many attempts' }), samples: ['gelf_mx_rate_limit_hits_total{selector="user"} 1'] },
  // MX index.js real_rcpt_handler: invalid SRS addresses, a domain not hosted here (each followed by its [DENY:] line below)
  { name: 'MX [RCPT TO] SRS missing domain', message: mx({ short_message: RCPT, _mail_action: 'rcpt_to', _to: rcptAddress, ...TXN, _srs: 'yes', _error: 'missing domain' }), samples: [] },
  { name: 'MX [RCPT TO] SRS check failed', message: mx({ short_message: RCPT, _mail_action: 'rcpt_to', _to: rcptAddress, ...TXN, _stack: 'Error: Invalid signature', _srs: 'yes', _failure: 'yes', _failure_msg: 'srs check failed', _err_code: undefined }), samples: [] },
  { name: 'MX [RCPT TO] domain not in the domain cache', message: mx({ short_message: RCPT, _mail_action: 'rcpt_to', _to: rcptAddress, ...TXN, _api: 'getDomaincache', _db_query: 'domain:elsewhere.example', _error: 'domain not found in domain cache', _failure: 'yes' }), samples: [] },
  // MX: rejections (hook_deny, hook_max_data_exceeded)
  { name: 'MX [DENY] NO_SUCH_USER', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _to: rcptAddress, _rejector: 'wildduck', _reject_code: 'NO_SUCH_USER', ...dsn(550, 1, 1, 'Bad destination mailbox address', 'No such user') }), samples: ['gelf_mx_recipients_rejected_total{code="NO_SUCH_USER"} 1', 'gelf_mx_recipients_unknown_total 1'] },
  { name: 'MX [DENY] by another plugin (dnsbl)', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _rejector: 'dnsbl', _reject_code: 'dnsbl', _error: 'host is listed' }), samples: ['gelf_mx_recipients_rejected_total{code="dnsbl"} 1'] },
  { name: 'MX [DENY] by an unlisted plugin', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _rejector: 'my.plugin', _reject_code: 'my.plugin' }), samples: ['gelf_mx_recipients_rejected_total{code="other"} 1'] },
  { name: 'MX [DENY] DMARC_POLICY_REJECT (rspamd blacklist)', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _reject_code: 'DMARC_POLICY_REJECT' }), samples: ['gelf_mx_recipients_rejected_total{code="DMARC_POLICY_REJECT"} 1'] },
  { name: 'MX [DENY] message too big', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _response: '552 Message too big', _mail_action: 'deny', ...TXN, _reject_code: 'max_data_exceeded' }), samples: ['gelf_mx_recipients_rejected_total{code="max_data_exceeded"} 1'] },
  { name: 'MX [DENY] an address with * (refused before any [RCPT TO:] line)', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _to: rcptAddress, _rejector: 'wildduck', _reject_code: 'NO_SUCH_USER', ...dsn(550, 1, 1, 'Bad destination mailbox address', 'No such user') }), samples: ['gelf_mx_recipients_rejected_total{code="NO_SUCH_USER"} 1', 'gelf_mx_recipients_unknown_total 1'] },
  { name: 'MX [DENY] domain not hosted (no reject code: the plugin name wildduck)', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _to: rcptAddress, _rejector: 'wildduck', _reject_code: 'wildduck', ...dsn(550, 1, 1, 'Bad destination mailbox address') }), samples: ['gelf_mx_recipients_rejected_total{code="DOMAIN_NOT_HOSTED"} 1', 'gelf_mx_recipients_not_hosted_total 1'] },
  // Haraka 3 loads renamed plugins and names them in its deny hook (plugins.js `deprecated`)
  ...['dns-list', 'headers', 'uribl', 'early_talker', 'known-senders', 'spamassassin'].map((plugin) => ({ name: `MX [DENY] by Haraka 3's ${plugin}`, message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _rejector: plugin, _reject_code: plugin, _error: 'rejected' }), samples: [`gelf_mx_recipients_rejected_total{code="${plugin}"} 1`] })),
  // MX: processing and storing (hook_queue sendLogEntry)
  {
    name: 'MX [PROCESS] stored',
    message: mx({ short_message: '[PROCESS] 5B1C2A3F-1', _mail_action: 'process', _queue_id: '5B1C2A3F-1', _ip: '198.51.100.7', _message_id: '<m1@example.net>', _spam_score: 3.2, _spam_action: 'no action', _from: 'bob@example.net', _subject: 'Hello', _user: 'u1', _to: 'alice@example.com', _stored: 'yes', _store_result: true, _filter_is_spam: 'no', _stored_mailbox: 'mb1', _stored_uid: 42, _stored_id: 'id1', _stored_size: 12345, _spam_tests: 'DKIM_SIGNED=0.1, R_SPF_ALLOW=-0.2' }),
    samples: ['gelf_mx_messages_stored_total 1', 'gelf_mx_stored_bytes_total 12345', 'gelf_mx_spam_actions_total{action="no action"} 1', 'gelf_mx_spam_score_count 1', 'gelf_mx_spam_score_sum 3.2'],
  },
  {
    name: 'MX [PROCESS] stored with score 0 (the field is dropped as falsy)',
    message: mx({ short_message: '[PROCESS] 5B1C2A3F-2', _mail_action: 'process', _queue_id: '5B1C2A3F-2', _spam_score: 0, _spam_action: 'add header', _user: 'u1', _stored: 'yes', _filter_is_spam: 'yes', _stored_size: 100 }),
    samples: ['gelf_mx_messages_stored_total 1', 'gelf_mx_stored_bytes_total 100', 'gelf_mx_spam_actions_total{action="add header"} 1', 'gelf_mx_spam_score_count 1'],
  },
  { name: 'MX [MX FILTER-HANDLER] Started storing message', message: mx({ short_message: '[MX FILTER-HANDLER] Started storing message', _mail_action: 'process', _queue_id: '5B1C2A3F-1', _spam_score: 3.2, _spam_action: 'no action', _user: 'u1', _to: 'alice@example.com' }), samples: [] },
  { name: 'MX store failed', message: mx({ short_message: '[PROCESS] 5B1C2A3F-1', _mail_action: 'process', full_message: 'Error: db down\n at x', _user: 'u1', _no_store: 'yes', _error: 'failed to store message', _failure: 'yes', _err_code: 'MongoNetworkError' }), samples: ['gelf_mx_store_failures_total 1'] },
  { name: 'MX [PROCESS] dropped by a filter (DroppedByPolicy: the sender sees 250)', message: mx({ short_message: '[PROCESS] 5B1C2A3F-1', _mail_action: 'process', _queue_id: '5B1C2A3F-1', _spam_score: 1.5, _spam_action: 'no action', _from: 'bob@example.net', _stack: 'Message dropped by policy [f1]', _user: 'u1', _to: 'alice@example.com', _filter: '', _filter_is_spam: 'no', _filters_matching: 'f1', _no_store: 'yes', _failure_msg: 'message dropped', _dropped: 'yes', _err_code: 'DroppedByPolicy' }), samples: ['gelf_mx_messages_dropped_total 1'] },
  // MX: forwards and autoreplies
  { name: 'MX [Queued forward] (twin of its [QUEUED] line)', message: mx({ short_message: '[Queued forward] 5B1C2A3F-1', _mail_action: 'forward', _queue_id: '5B1C2A3F-1', _target_queue_id: 'f1', _target_address: 'carol@example.org' }), samples: [] },
  { name: 'MX [QUEUED] forward', message: mx({ _queue_id: 'f1', short_message: '[QUEUED] f1', _parent_queue_id: '5B1C2A3F-1', _from: 'bob@example.net', _to: 'carol@example.org', _queued: 'yes', _forwarded: 'yes', _interface: 'mx' }), samples: ['gelf_forwards_total{component="mx",result="done"} 1'] },
  // the same filter handler inside Haraka (plugin.loggelf: `_interface: mx`, `_error` kept); its [QUEUED] line counts the forward
  ...forwardAfterFailedCheck('mx', mx),
  { name: 'MX [FRWRDOK] from the filter handler (counted by its [QUEUED] line)', message: mx({ short_message: '[FRWRDOK] Scheduled forwarding', _user: 'u1', _mail_action: 'forward', _target_queue_id: 'f2', _forwarded: 'yes' }), samples: [] },
  { name: 'MX [Skip forward] spam', message: mx({ short_message: '[Skip forward] 5B1C2A3F-1', _mail_action: 'forward', _forward_skipped: 'yes', _spam_score: 12.5, _spam_action: 'add header', _spam_allowed: 10 }), samples: ['gelf_forwards_total{component="mx",result="skipped_spam"} 1'] },
  { name: 'MX [Failed forward]', message: mx({ short_message: '[Failed forward] 5B1C2A3F-1', _stack: 'Error: x', _failure_msg: 'failed to store message', _mail_action: 'forward', _failure: 'yes', _err_code: 'ERRCOMPOSE' }), samples: ['gelf_forwards_total{component="mx",result="failed"} 1'] },
  { name: 'MX [Queued autoreply] (twin of its [QUEUED] line)', message: mx({ short_message: '[Queued autoreply] 5B1C2A3F-1', _mail_action: 'autoreply', _target_queue_id: 'a1', _target_address: 'alice@example.com' }), samples: [] },
  { name: 'MX [QUEUED] autoreply', message: mx({ _queue_id: 'a1', short_message: '[QUEUED] a1', _parent_queue_id: '5B1C2A3F-1', _to: 'bob@example.net', _queued: 'yes', _autoreply: 'yes', _interface: 'mx' }), samples: ['gelf_autoreplies_total{component="mx",result="sent"} 1'] },
  { name: 'MX [Autoreply error]', message: mx({ short_message: '[Autoreply error] 5B1C2A3F-1', _mail_action: 'autoreply', _target_address: 'alice@example.com', _failure: 'yes', _error: 'boom' }), samples: ['gelf_autoreplies_total{component="mx",result="failed"} 1'] },

  // MTA (zonemta-wildduck): authentication, both its own lines and WildDuck's user handler inside it
  { name: "MTA [AUTHFAIL] from WildDuck's user handler", message: mta({ short_message: '[AUTHFAIL] alice@example.com', _error: 'Authentication failed', _auth_result: 'fail', _scope: 'smtp', ...USER }), samples: ['gelf_auth_attempts_total{component="mta",scope="smtp",result="fail"} 1'] },
  { name: 'MTA [AUTH FAIL:] repeating that attempt', message: mta({ short_message: '[AUTH FAIL:alice@example.com] sess1', _auth_fail: 'yes', _mail_action: 'auth', _username: 'alice@example.com', _require_asp: '', _session_id: 'sess1', _ip: '192.0.2.10' }), samples: [] },
  { name: 'MTA [AUTH FAIL:] XCLIENT unknown user', message: mta({ short_message: '[AUTH FAIL:ghost@example.com] sess2', _auth_fail: 'yes', _mail_action: 'auth', _username: 'ghost@example.com', _xclient: 'yes', _session_id: 'sess2', _ip: '192.0.2.11' }), samples: ['gelf_auth_attempts_total{component="mta",scope="smtp",result="unknown"} 1'] },
  { name: "MTA [AUTHFAIL] master password where 2FA requires an application password (WildDuck's user handler: InvalidAuthScope, no [AUTH FAIL:] follows)", message: mta({ short_message: '[AUTHFAIL] alice@example.com', _error: 'Authentication failed. Invalid scope', _code: 'InvalidAuthScope', _auth_result: 'fail', _password_type: 'master', _scope: 'smtp', ...USER }), samples: ['gelf_auth_attempts_total{component="mta",scope="smtp",result="fail"} 1'] },
  { name: 'MTA [AUTH OK:] repeating [AUTHOK]', message: mta({ short_message: '[AUTH OK:alice@example.com] sess4', _auth_ok: 'yes', _mail_action: 'auth', _username: 'alice@example.com', _scope: 'smtp', _session_id: 'sess4', _ip: '192.0.2.10' }), samples: [] },
  // MTA: limits and rewrites
  { name: 'MTA [RCPT TO] daily sending limit', message: mta({ short_message: '[RCPT TO:x@example.org] sess5', _to: 'x@example.org', _mail_action: 'rcpt_to', _allowed: 'no', _daily: 'yes', _rate_limit: 'yes', _error: 'daily sending limit reached', _user: 'u1', _limit_sent: 201, _limit_allowed: 200 }), samples: ['gelf_mta_daily_limit_hits_total 1'] },
  { name: 'MTA [RCPT TO] allowed', message: mta({ short_message: '[RCPT TO:x@example.org] sess5', _user: 'u1', _to: 'x@example.org', _mail_action: 'rcpt_to', _allowed: 'yes', _limit_sent: 3, _limit_allowed: 200 }), samples: ['gelf_mta_recipients_accepted_total 1', 'gelf_daily_limit_used_ratio_count 1', 'gelf_daily_limit_used_ratio_sum 0.015'] },
  { name: 'MTA [RWENVELOPE]', message: mta({ short_message: '[RWENVELOPE] 18f3a', _mail_action: 'rw_envelope_from', _queue_id: '18f3a', _envelope_from: 'boss@example.com', _rewrite_from: 'alice@example.com' }), samples: ['gelf_mta_from_rewrites_total{kind="envelope"} 1'] },
  { name: 'MTA [RWFROM]', message: mta({ short_message: '[RWFROM] 18f3a', _mail_action: 'rw_header_from', _queue_id: '18f3a', _header_from: 'boss@example.com', _rewrite_from: 'alice@example.com' }), samples: ['gelf_mta_from_rewrites_total{kind="header"} 1'] },
  // MTA: ZoneMTA log entries (log:entry hook)
  { name: 'MTA [QUEUED]', message: mta({ _queue_id: '18f3a', _queue_id_seq: '', short_message: '[QUEUED] 18f3a', _from: 'alice@example.com', _to: 'x@example.org', _mail_action: 'queued', _ip: '192.0.2.10', _body_size: 2048, _interface: 'feeder', _proto: 'ESMTPSA' }), samples: ['gelf_mta_messages_total{action="queued",zone="none",category="none"} 1'] },
  { name: 'MTA [ACCEPTED]', message: mta({ _queue_id: '18f3a', _queue_id_seq: '001', short_message: '[ACCEPTED] 18f3a.001', _mail_action: 'accepted', _zone: 'default', _mx: 'mx.example.org', _mx_host: 'mx.example.org', _local_ip: '203.0.113.5', _response: '250 2.0.0 OK', _tls: 'yes' }), samples: ['gelf_mta_messages_total{action="accepted",zone="default",category="none"} 1'] },
  { name: 'MTA [DEFERRED]', message: mta({ _queue_id: '18f3a', _queue_id_seq: '001', short_message: '[DEFERRED] 18f3a.001', _bounce_category: 'greylist', _bounce_count: 1, _mail_action: 'deferred', _zone: 'default', _response: '451 4.7.1 Greylisted' }), samples: ['gelf_mta_messages_total{action="deferred",zone="default",category="greylist"} 1'] },
  { name: 'MTA [REJECTED]', message: mta({ _queue_id: '18f3a', _queue_id_seq: '002', short_message: '[REJECTED] 18f3a.002', _bounce_category: 'recipient', _mail_action: 'bounced', _zone: 'bulk', _response: '550 5.1.1 No such user' }), samples: ['gelf_mta_messages_total{action="bounced",zone="bulk",category="recipient"} 1'] },
  { name: 'MTA [REJECTED] with an unknown category', message: mta({ _queue_id: '18f3a', short_message: '[REJECTED] 18f3a', _bounce_category: 'made-up', _mail_action: 'bounced', _zone: 'bulk' }), samples: ['gelf_mta_messages_total{action="bounced",zone="bulk",category="other"} 1'] },
  { name: 'MTA [NOQUEUE]', message: mta({ _queue_id: '18f3b', short_message: '[NOQUEUE] 18f3b', _mail_action: 'dropped', _ip: '192.0.2.10', _response: 'spam' }), samples: ['gelf_mta_messages_total{action="dropped",zone="none",category="none"} 1'] },
  { name: 'MTA [QUEUE_POLL]', message: mta({ short_message: '[QUEUE_POLL] default', _mail_action: 'queue_poll', _queue_poll_zone: 'default', _queue_poll_match: 'no' }), samples: [] },
  // ZoneMTA plugins/core/email-bounce.js remotelog QUEUE_BOUNCE, as zonemta-wildduck's log:entry hook logs it
  { name: 'MTA [QUEUE_BOUNCE] failure queued', message: mta({ _queue_id: '18f3a', _queue_id_seq: '002', short_message: '[QUEUE_BOUNCE] failure', _mail_action: 'queue_bounce', _queue_bounce_queued: 'yes', _queue_bounce_type: 'failure', _queue_bounce_id: '18f3d', _error: undefined }), samples: ['gelf_mta_bounce_messages_total{type="failure",result="queued"} 1'] },
  { name: 'MTA [QUEUE_BOUNCE] delayed not queued', message: mta({ _queue_id: '18f3a', _queue_id_seq: '003', short_message: '[QUEUE_BOUNCE] delayed', _mail_action: 'queue_bounce', _queue_bounce_queued: 'no', _queue_bounce_type: 'delayed', _queue_bounce_id: undefined, _error: 'Failed to store message' }), samples: ['gelf_mta_bounce_messages_total{type="delayed",result="failed"} 1'] },
];

/**
 * lib/filter-handler.js ~831-903: the forward's logdata, logged once by [FRWRDFAIL] when the rate-limit counter
 * could not be read (Redis error: the check is skipped, not failed) and again by [FRWRDOK] when the forward is queued
 * all the same. The second line still carries what the first set and the wrapper left (`_failure_msg`, `_code`).
 */
function forwardAfterFailedCheck(component: 'wildduck' | 'mx', send: (f: Fields) => Fields): UpstreamLine[] {
  const logdata: Fields = { _user: 'u1', _mail_action: 'forward', _sender: 'bob@example.net', _recipient: 'alice@example.com', _target_address: 'carol@example.org', _message_id: '<m2@example.net>' };
  Object.assign(logdata, { short_message: '[FRWRDFAIL] Skipped forwarding due to database error', _error: 'Connection is closed.', _code: undefined, _forwarded: 'no' });
  const failed = send(logdata);
  Object.assign(logdata, { short_message: '[FRWRDOK] Scheduled forwarding', _target_queue_id: 'q9', _forwarded: 'yes' });
  const ok = send(logdata);
  return [
    { name: `${component} [FRWRDFAIL] forward limit check failed (database error)`, message: failed, samples: [`gelf_wildduck_errors_total{component="${component}",kind="forward_check"} 1`] },
    { name: `${component} [FRWRDOK] after that failed check`, message: ok, samples: component === 'wildduck' ? ['gelf_forwards_total{component="wildduck",result="done"} 1'] : [] },
  ];
}

/** WildDuck lib/errors.js loggelf: `[Exception]`, `_exception: yes`, every plain field of the error object as `_<key>`. */
function exception(err: Fields): Fields {
  const msg: Fields = { short_message: `WILDDUCK [Exception] ${err.message}`, full_message: `Error: ${err.message}\n    at x`, _exception: 'yes', _error: err.message };
  for (const key of Object.keys(err)) {
    const vKey = `_${key.replace(/^_/, '')}`;
    if (!msg[vKey] && typeof err[key] !== 'object') msg[vKey] = String(err[key] || '').trim();
  }
  return wildduck(msg);
}
