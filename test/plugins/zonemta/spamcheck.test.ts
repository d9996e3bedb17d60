/**
 * Outbound spam verdicts: ZoneMTA's bundled core/rspamd plugin scans mail in the receiver processes and logs one
 * SPAMCHECK entry per scanned message. The entries here are shaped exactly as plugins/core/rspamd/index.js of
 * zone-mta 3.11.0 writes them: `app.remotelog(envelope.id, false, 'SPAMCHECK', { score, result, tests })` with
 * `score` a string (`toFixed(2)`), `result` rspamd's `default.action` or 'unknown', `tests` 'SYM=score, ...'.
 * On `reject` the same plugin refuses the message with app.reject(envelope, 'spam', ...) (NOQUEUE) or, with
 * dropSpam, drops it with app.drop(envelope, 'spam', ...) (DROP). They are logged in a receiver loaded by ZoneMTA's
 * own plugin loader and reach the master over log.remote, as in ZoneMTA.
 */
import { labelValues, scrapeUntil, total } from '../../helpers/exposition';
import { freeUdpPort, loadPlugin, plugin } from './helpers';

const P = 'zonemta_tinomail_';

afterEach(() => plugin.stop());

/** The keys app.reject()/app.drop() log: messageInfo.keys() (with core/rspamd's tests and score) plus the envelope's. */
function refusalKeys(id: string, score: string) {
  return {
    'message-id': `<${id}@example.com>`, from: 'mallory@example.com', to: 'victim@example.net', src: '198.51.100.7', subject: 'Cheap',
    tests: 'TINOMAIL_TEST_SCORE=25,MIME_GOOD=-0.1', score, description: 'spam',
    responseText: '550 This message was classified as SPAM and may not be delivered',
    interface: 'feeder', originhost: '[198.51.100.7]', transhost: 'client.example.com', transtype: 'ESMTPSA', user: 'mallory',
  };
}

test('SPAMCHECK entries are counted by rspamd action and score, with no address, user or symbol in the labels', async () => {
  const logPort = await freeUdpPort();
  const remote = { remote: { protocol: 'udp4', host: '127.0.0.1', port: logPort } };
  const master = await loadPlugin('main', { logListen: `127.0.0.1:${logPort}` }, remote);
  const receiver = await loadPlugin('receiver', { logListen: `127.0.0.1:${logPort}` }, remote);
  const h = receiver.handler;

  const checks: Array<[string, string]> = [
    ['-0.10', 'no action'],
    ['0.00', 'no action'],
    ['3.50', 'no action'],
    ['5.00', 'greylist'],
    ['9.00', 'add header'],
    ['11.20', 'add header'],
    ['12.00', 'rewrite subject'],
    ['14.00', 'soft reject'],
    ['25.00', 'reject'],
    ['40.00', 'reject'],
    ['0.00', 'unknown'], // rspamd answered without an action
    ['7.00', 'discard'], // not an action ZoneMTA's plugin knows of
  ];
  checks.forEach(([score, result], k) => {
    const id = `18f${k.toString(16).padStart(5, '0')}`;
    h.remotelog(id, false, 'SPAMCHECK', { score, result, tests: `TINOMAIL_TEST_SCORE=${score}, MIME_GOOD=-0.1, FROM_HAS_DN=0` });
  });
  // the rejects: one refused (NOQUEUE), one dropped (dropSpam: true)
  h.remotelog('18f00008', false, 'NOQUEUE', refusalKeys('18f00008', '25.00'));
  h.remotelog('18f00009', false, 'DROP', refusalKeys('18f00009', '40.00'));
  const entries = checks.length + 2;

  const s = await scrapeUntil(master.metricsUrl, m => total(m, `${P}log_entries_total`) >= entries);
  expect(total(s, `${P}log_entries_total`)).toBe(entries);
  expect(total(s, `${P}log_entries_total`, { action: 'SPAMCHECK' })).toBe(checks.length);

  const byAction = (action: string) => total(s, `${P}spam_checks_total`, { action });
  expect(byAction('no action')).toBe(3);
  expect(byAction('greylist')).toBe(1);
  expect(byAction('add header')).toBe(2);
  expect(byAction('rewrite subject')).toBe(1);
  expect(byAction('soft reject')).toBe(1);
  expect(byAction('reject')).toBe(2);
  expect(byAction('unknown')).toBe(1);
  expect(byAction('other')).toBe(1);
  expect(total(s, `${P}spam_checks_total`)).toBe(checks.length);

  // the score histogram: every entry's score (a string in the entry), bucket by bucket
  const scores = checks.map(([score]) => Number(score));
  expect(total(s, `${P}spam_score_count`)).toBe(checks.length);
  expect(total(s, `${P}spam_score_sum`)).toBeCloseTo(scores.reduce((a, b) => a + b, 0), 6);
  for (const le of ['0', '2', '4', '6', '8', '10', '15', '20', '30', '+Inf']) {
    const bound = le === '+Inf' ? Infinity : Number(le);
    expect([le, total(s, `${P}spam_score_bucket`, { le })]).toEqual([le, scores.filter(x => x <= bound).length]);
  }

  // ZoneMTA's refusal and drop of the rejects
  expect(total(s, `${P}messages_noqueue_total`, { interface: 'feeder', reason: 'spam' })).toBe(1);
  expect(total(s, `${P}messages_dropped_total`, { reason: 'spam' })).toBe(1);

  // labels: only the action; nothing of the tests, addresses or users
  expect([...labelValues(s, `${P}spam_checks_total`, 'action')].sort()).toEqual(
    ['add header', 'greylist', 'no action', 'other', 'reject', 'rewrite subject', 'soft reject', 'unknown'],
  );
  expect(s).not.toMatch(/TINOMAIL_TEST_SCORE|MIME_GOOD|mallory|victim|198\.51\.100\.7/);
});

test('a SPAMCHECK entry without a usable score still counts its verdict and leaves the histogram alone', async () => {
  const master = await loadPlugin('main', {});
  const receiver = await loadPlugin('receiver', { logListen: `127.0.0.1:${master.logPort}` });
  for (const score of [undefined, '', 'n/a', null]) {
    await receiver.handler.runHooks('log:entry', [{ id: '18f1', action: 'SPAMCHECK', score, result: 'no action', tests: '' }]);
  }
  await receiver.handler.runHooks('log:entry', [{ id: '18f2', action: 'SPAMCHECK', score: '1.50' }]); // no result

  const s = await scrapeUntil(master.metricsUrl, m => total(m, `${P}spam_checks_total`) >= 5);
  expect(total(s, `${P}spam_checks_total`, { action: 'no action' })).toBe(4);
  expect(total(s, `${P}spam_checks_total`, { action: 'unknown' })).toBe(1);
  expect(total(s, `${P}spam_score_count`)).toBe(1);
  expect(total(s, `${P}spam_score_sum`)).toBe(1.5);
  expect(total(s, `${P}log_datagrams_malformed_total`)).toBe(0);
  expect(total(s, `${P}hook_errors_total`)).toBe(0);
});
