/**
 * GELF messages shaped exactly as the upstream senders build them (WildDuck 1.50 lib/user-handler.js,
 * lib/handlers/on-auth.js, lib/filter-handler.js; haraka-plugin-wildduck 6.0.1 index.js; zonemta-wildduck 1.32.31
 * index.js): the fields of each loggelf() call, then what each loggelf wrapper adds (short_message prefix, host,
 * facility, timestamp, _component, the MX's _interface) and removes (every falsy field). WildDuck, Haraka and
 * ZoneMTA cannot run here, so these literals stand in for them; each comes with the mail samples it must produce.
 */
type Fields = Record<string, unknown>;

function loggelf(component: string, fields: Fields, extra: Fields = {}): Fields {
  const msg: Fields = { ...fields };
  const prefix = component.toUpperCase();
  if (typeof msg.short_message !== 'string' || !msg.short_message.startsWith(prefix)) {
    msg.short_message = `${prefix} ${msg.short_message ?? ''}`;
  }
  Object.assign(msg, { facility: component, host: 'mail1.example.com', timestamp: 1763900000.123, _component: component }, extra);
  for (const key of Object.keys(msg)) if (!msg[key]) delete msg[key];
  return msg;
}

/** WildDuck's loggelf (api.js, imap.js, lmtp.js): _error becomes _failure_msg unless full_message is set. */
const wildduck = (f: Fields) => {
  const { _error, ...rest } = f;
  return loggelf('wildduck', _error && !f.full_message ? { _failure_msg: _error, ...rest } : f);
};
/** haraka-plugin-wildduck's plugin.loggelf: component 'mx', `_interface` defaults to 'mx'. */
const mx = (f: Fields) => loggelf('mx', f, { _interface: f._interface || 'mx' });
/** zonemta-wildduck's loggelf: component 'mta'. */
const mta = (f: Fields) => loggelf('mta', f);

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

  // MX (haraka-plugin-wildduck): RCPT TO resolutions
  { name: 'MX [RCPT TO] accepted', message: mx({ short_message: '[RCPT TO:alice@example.com] 5B1C2A3F-1', _mail_action: 'rcpt_to', _to: 'alice@example.com', ...TXN, _user: 'u1', _rcpt_accepted: 'yes', _default_address: '' }), samples: ['gelf_mx_recipients_accepted_total 1'] },
  { name: 'MX [RCPT TO] unknown user', message: mx({ short_message: '[RCPT TO:nobody@example.com] 5B1C2A3F-1', _mail_action: 'rcpt_to', _to: 'nobody@example.com', ...TXN, _error: 'no such user', _unknown_user: 'yes' }), samples: ['gelf_mx_recipients_unknown_total 1'] },
  { name: 'MX [RCPT TO] over quota', message: mx({ short_message: '[RCPT TO:alice@example.com] 5B1C2A3F-1', _mail_action: 'rcpt_to', _to: 'alice@example.com', ...TXN, _user: 'u1', _error: 'user over quota', _over_quota: 'yes', _max_quota: 1073741824, _quota_source: 'config', _storage_used: 1073741900 }), samples: ['gelf_mx_recipients_over_quota_total 1'] },
  { name: 'MX [RCPT TO] rcptIp rate limit hit', message: mx({ short_message: '[RCPT TO:alice@example.com] 5B1C2A3F-1', _mail_action: 'rcpt_to', ...TXN, _rate_limit: 'yes', _selector: 'rcptIp', _error: 'too many attempts', _user: 'u1' }), samples: ['gelf_mx_rate_limit_hits_total{selector="rcptIp"} 1'] },
  { name: 'MX [RCPT TO] rate limit check failed (Redis error)', message: mx({ short_message: '[RCPT TO:alice@example.com] 5B1C2A3F-1', _mail_action: 'rcpt_to', ...TXN, _rate_limit: 'yes', _selector: 'rcpt', _failure_msg: 'rate limit check failed', _failure: 'yes', _err_code: 'ECONNREFUSED' }), samples: [] },
  { name: 'MX [RCPT TO] forwarding address over its limit', message: mx({ short_message: '[RCPT TO:list@example.com] 5B1C2A3F-1', _mail_action: 'rcpt_to', ...TXN, _forward: 'yes', _rate_limit: 'yes', _selector: 'user', _error: 'too many attempts' }), samples: ['gelf_mx_rate_limit_hits_total{selector="user"} 1'] },
  // MX: rejections (hook_deny, hook_max_data_exceeded)
  { name: 'MX [DENY] NO_SUCH_USER', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _to: 'nobody@example.com', _rejector: 'wildduck', _reject_code: 'NO_SUCH_USER', _error: 'No such user' }), samples: ['gelf_mx_recipients_rejected_total{code="NO_SUCH_USER"} 1'] },
  { name: 'MX [DENY] by another plugin (dnsbl)', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _rejector: 'dnsbl', _reject_code: 'dnsbl', _error: 'host is listed' }), samples: ['gelf_mx_recipients_rejected_total{code="dnsbl"} 1'] },
  { name: 'MX [DENY] by an unlisted plugin', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _rejector: 'my.plugin', _reject_code: 'my.plugin' }), samples: ['gelf_mx_recipients_rejected_total{code="other"} 1'] },
  { name: 'MX [DENY] DMARC_POLICY_REJECT (rspamd blacklist)', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _mail_action: 'deny', ...TXN, _reject_code: 'DMARC_POLICY_REJECT' }), samples: ['gelf_mx_recipients_rejected_total{code="DMARC_POLICY_REJECT"} 1'] },
  { name: 'MX [DENY] message too big', message: mx({ short_message: '[DENY:bob@example.net] 5B1C2A3F-1', _response: '552 Message too big', _mail_action: 'deny', ...TXN, _reject_code: 'max_data_exceeded' }), samples: ['gelf_mx_recipients_rejected_total{code="max_data_exceeded"} 1'] },
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
  // MX: forwards and autoreplies
  { name: 'MX [Queued forward] (twin of its [QUEUED] line)', message: mx({ short_message: '[Queued forward] 5B1C2A3F-1', _mail_action: 'forward', _queue_id: '5B1C2A3F-1', _target_queue_id: 'f1', _target_address: 'carol@example.org' }), samples: [] },
  { name: 'MX [QUEUED] forward', message: mx({ _queue_id: 'f1', short_message: '[QUEUED] f1', _parent_queue_id: '5B1C2A3F-1', _from: 'bob@example.net', _to: 'carol@example.org', _queued: 'yes', _forwarded: 'yes', _interface: 'mx' }), samples: ['gelf_forwards_total{component="mx",result="done"} 1'] },
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
  { name: 'MTA [AUTH FAIL:] application password required', message: mta({ short_message: '[AUTH FAIL:alice@example.com] sess3', _auth_fail: 'yes', _mail_action: 'auth', _username: 'alice@example.com', _require_asp: 'yes', _session_id: 'sess3', _ip: '192.0.2.10' }), samples: ['gelf_auth_attempts_total{component="mta",scope="smtp",result="asp_required"} 1'] },
  { name: 'MTA [AUTH OK:] repeating [AUTHOK]', message: mta({ short_message: '[AUTH OK:alice@example.com] sess4', _auth_ok: 'yes', _mail_action: 'auth', _username: 'alice@example.com', _scope: 'smtp', _session_id: 'sess4', _ip: '192.0.2.10' }), samples: [] },
  // MTA: limits and rewrites
  { name: 'MTA [RCPT TO] daily sending limit', message: mta({ short_message: '[RCPT TO:x@example.org] sess5', _to: 'x@example.org', _mail_action: 'rcpt_to', _allowed: 'no', _daily: 'yes', _rate_limit: 'yes', _error: 'daily sending limit reached', _user: 'u1', _limit_sent: 201, _limit_allowed: 200 }), samples: ['gelf_mta_daily_limit_hits_total 1'] },
  { name: 'MTA [RCPT TO] allowed', message: mta({ short_message: '[RCPT TO:x@example.org] sess5', _user: 'u1', _to: 'x@example.org', _mail_action: 'rcpt_to', _allowed: 'yes', _limit_sent: 3, _limit_allowed: 200 }), samples: [] },
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
];
