/** The probe's pure parts on literal inputs: config, Received headers and hops, state file, header values. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseZoneMtaInfo, placementOf, probeHeaderValue, tokenOf } from '../../exporters/probe/check';
import { ConfigError, parseConfig, readSecret } from '../../exporters/probe/config';
import { hopSeconds, parseReceived, receivedHeaders } from '../../exporters/probe/received';
import { parseState, StateFile } from '../../exporters/probe/state';
import { queueIdFromResponse } from '../../exporters/probe/submit';

const dir = mkdtempSync(join(tmpdir(), 'probe-parse-'));
writeFileSync(join(dir, 'pass'), 's3cret\n');

const ROUTE = `
routes:
  - name: zonemta-inbox
    from: probe@example.com
    to: probe@example.com
    submit: { method: smtp, host: 127.0.0.1, port: 587, tls: starttls, user: probe@example.com, password_file: pass }
    check: { host: 127.0.0.1, user: probe@example.com, password_file: ${join(dir, 'pass')} }
`;

describe('config', () => {
  test('a route with defaults', () => {
    const [r] = parseConfig(ROUTE, dir);
    expect(r.name).toBe('zonemta-inbox');
    expect([r.intervalMs, r.timeoutMs, r.lateThresholdMs, r.pollIntervalMs]).toEqual([60_000, 120_000, 1_800_000, 5000]);
    expect(r.submit).toMatchObject({ method: 'smtp', host: '127.0.0.1', port: 587, tls: { mode: 'starttls', insecure: false }, passwordFile: join(dir, 'pass') });
    expect(r.check).toMatchObject({ method: 'imap', port: 993, tls: { mode: 'implicit' }, folders: ['INBOX', 'Junk'] });
    expect(r.mtaUrl).toBeUndefined();
    expect(r.received.mx.test('by mx (Haraka/3.3.4) with ESMTP')).toBe(true);
  });

  test('every method and timing key', () => {
    const routes = parseConfig(
      `routes:
  - name: api
    from: a@example.com
    to: b@example.com
    interval: 30s
    timeout: 45s
    late_threshold: 1h
    poll_interval: 500ms
    submit: { method: zonemta, url: "http://127.0.0.1:12080/" }
    check: { method: wildduck, url: "http://127.0.0.1:8080", user_id: 5F0000000000000000000001, folders: [INBOX] }
    mta: { zonemta_url: "http://127.0.0.1:12080" }
    received: { mx: "mx\\\\.example", store: dovecot }
  - name: wd
    from: a@example.com
    to: b@example.com
    submit: { method: wildduck, url: "http://127.0.0.1:8080", user_id: 5f0000000000000000000001 }
    check: { host: imap.example.com, tls: starttls, user: a, password_file: pass }
`,
      dir,
    );
    expect(routes[0]).toMatchObject({ intervalMs: 30_000, timeoutMs: 45_000, lateThresholdMs: 3_600_000, pollIntervalMs: 500, mtaUrl: 'http://127.0.0.1:12080' });
    expect(routes[0].submit).toEqual({ method: 'zonemta', url: 'http://127.0.0.1:12080' });
    expect(routes[0].check).toMatchObject({ method: 'wildduck', userId: '5f0000000000000000000001', folders: ['INBOX'] });
    expect(routes[0].received.mx.source).toBe('mx\\.example');
    expect(routes[1].submit).toMatchObject({ method: 'wildduck', userId: '5f0000000000000000000001' });
    expect(routes[1].check).toMatchObject({ port: 143, tls: { mode: 'starttls' } });
  });

  test.each([
    ['not: [valid', /not valid YAML/],
    ['routes: []', /routes: must be a non-empty list/],
    ['routes: [1]', /routes\[0\]: must be a mapping/],
    [ROUTE.replace('zonemta-inbox', 'probe@example.com'), /name: must be 1\.\.40 letters/],
    [ROUTE + ROUTE.replace('routes:\n', ''), /name: is used by another route/],
    [ROUTE.replace('tls: starttls', 'tls: sometimes'), /route "zonemta-inbox"\.submit\.tls: must be one of none, starttls, implicit/],
    [ROUTE.replace('port: 587', 'port: 99999'), /submit\.port: must be a port number/],
    [ROUTE.replace('password_file: pass', 'password_file: missing'), /submit\.password_file: cannot read missing: ENOENT/],
    [ROUTE.replace('    from:', '    colour: blue\n    from:'), /unknown key "colour"/],
    [ROUTE.replace('to: probe@example.com', 'to: nobody'), /to: must be an e-mail address/],
    [ROUTE.replace('    from:', '    interval: soon\n    from:'), /interval: not a duration/],
    [ROUTE.replace('    from:', '    timeout: 10m\n    late_threshold: 5m\n    from:'), /late_threshold: must be at least the timeout/],
    [ROUTE.replace('method: smtp', 'method: pigeon'), /submit\.method: must be one of smtp, zonemta, wildduck/],
    [ROUTE.replace('    from:', '    received: { mx: "(" }\n    from:'), /received\.mx: not a regular expression/],
  ])('refuses %#', (text, message) => {
    expect(() => parseConfig(text, dir)).toThrow(ConfigError);
    expect(() => parseConfig(text, dir)).toThrow(message);
  });

  test('an error never shows the password', () => {
    let message = '';
    try {
      parseConfig(ROUTE.replace('port: 587', 'port: x'), dir);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('submit.port');
    expect(message).not.toContain('s3cret');
  });

  test('readSecret: first line, trimmed; empty and missing files are errors without the content', () => {
    expect(readSecret(join(dir, 'pass'), 'password')).toBe('s3cret');
    writeFileSync(join(dir, 'empty'), '\n');
    expect(() => readSecret(join(dir, 'empty'), 'password')).toThrow(/is empty/);
    expect(() => readSecret(join(dir, 'nope'), 'password')).toThrow(/ENOENT/);
  });
});

// Received headers as the upstream code writes them (see exporters/probe/received.ts for where).
const ZONEMTA = 'from [127.0.0.1] (localhost [127.0.0.1])\r\n by mta.example.com (ZoneMTA) with ESMTPSA id 18c5e4a0c5e0004f2a.001\r\n for <probe@example.com>;\r\n Tue, 01 Dec 2026 20:00:02 +0000';
const HARAKA = 'from mta.example.com (mta.example.com [127.0.0.1])\r\n\tby mx.example.com (Haraka/3.3.4) with ESMTPS id 5B3C1F0A-1D2E-4F00-9C8B-7A6D5E4F3A2B.1\r\n\tenvelope-from <probe@example.com>\r\n\ttls TLS_AES_256_GCM_SHA384;\r\n\tTue, 01 Dec 2026 20:00:05 +0000';
const LMTP = 'from mx.example.com by store.example.com (Dovecot) with LMTP id abc; Tue, 01 Dec 2026 20:00:06 +0000 (UTC)';
const T0 = Date.parse('2026-12-01T20:00:00.500Z');
const PATTERNS = { mx: /Haraka/i, store: /\bwith\s+LMTPS?A?\b/i };

describe('Received headers and hops', () => {
  test('parseReceived: folded text and the date after the last semicolon', () => {
    expect(parseReceived(HARAKA)).toEqual({
      text: 'from mta.example.com (mta.example.com [127.0.0.1]) by mx.example.com (Haraka/3.3.4) with ESMTPS id 5B3C1F0A-1D2E-4F00-9C8B-7A6D5E4F3A2B.1 envelope-from <probe@example.com> tls TLS_AES_256_GCM_SHA384',
      time: Date.parse('2026-12-01T20:00:05Z'),
    });
    expect(parseReceived(LMTP).time).toBe(Date.parse('2026-12-01T20:00:06Z'));
    expect(parseReceived('from x by y with SMTP').time).toBeUndefined();
    expect(parseReceived('from x by y; not a date').time).toBeUndefined();
  });

  test('receivedHeaders: every Received line of the header block, newest first, folded lines joined', () => {
    const raw = `Received: ${HARAKA}\r\nX-Other: 1\r\nReceived: ${ZONEMTA}\r\nSubject: x\r\n\r\nReceived: in the body\r\n`;
    const list = receivedHeaders(raw);
    expect(list).toHaveLength(2);
    expect(list[0]).toContain('Haraka/3.3.4');
    expect(list[1]).toContain('(ZoneMTA)');
    expect(receivedHeaders(Array.from({ length: 80 }, () => `Received: ${LMTP}`).join('\r\n'))).toHaveLength(50);
  });

  test('ZoneMTA -> Haraka -> LMTP store: four hops', () => {
    const seen = Date.parse('2026-12-01T20:00:06.800Z');
    expect(hopSeconds([LMTP, HARAKA, ZONEMTA], T0, seen, PATTERNS)).toEqual({ submission: 1.5, mta: 3, mx: 1, store: 0.8 });
  });

  test('ZoneMTA -> Haraka -> WildDuck (which adds no Received): mx runs until the message is seen', () => {
    const seen = Date.parse('2026-12-01T20:00:07.250Z');
    expect(hopSeconds([HARAKA, ZONEMTA], T0, seen, PATTERNS)).toEqual({ submission: 1.5, mta: 3, mx: 2.25 });
  });

  test('straight to the MX: submission and mx only; second-resolution dates never go negative', () => {
    const seen = Date.parse('2026-12-01T20:00:05.400Z');
    const sent = Date.parse('2026-12-01T20:00:05.300Z');
    expect(hopSeconds([HARAKA], sent, seen, PATTERNS)).toEqual({ submission: 0, mx: 0.4 });
  });

  test('an unknown MX is the newest header after the first; undated headers and old ones are ignored', () => {
    const relay = 'from a by relay.example.net (Postfix) with ESMTP id 1; Tue, 01 Dec 2026 20:00:04 +0000';
    const old = 'from b by laptop with SMTP; Mon, 30 Nov 2026 10:00:00 +0000';
    const seen = Date.parse('2026-12-01T20:00:09Z');
    expect(hopSeconds([relay, 'garbage', ZONEMTA, old], T0, seen, PATTERNS)).toEqual({ submission: 1.5, mta: 2, mx: 5 });
    expect(hopSeconds([], T0, seen, PATTERNS)).toEqual({});
  });
});

describe('probe header, placement, MTA answers', () => {
  const token = '0123456789abcdef0123456789abcdef';
  test('tokenOf takes only this route and a well-formed token', () => {
    expect(tokenOf(`zonemta-inbox ${token}`, 'zonemta-inbox')).toBe(token);
    expect(tokenOf(`zonemta-inbox-2 ${token}`, 'zonemta-inbox')).toBeUndefined();
    expect(tokenOf(`zonemta-inbox ${token}x`, 'zonemta-inbox')).toBeUndefined();
    expect(tokenOf('', 'zonemta-inbox')).toBeUndefined();
  });

  test('probeHeaderValue reads the header, folded or not, case-insensitively', () => {
    expect(probeHeaderValue(`Subject: a\r\nx-tinomail-probe: r1\r\n ${token}\r\n\r\nbody`)).toBe(`r1 ${token}`);
    expect(probeHeaderValue('Subject: a\r\n\r\nX-Tinomail-Probe: in the body')).toBeUndefined();
  });

  test('placementOf', () => {
    expect(placementOf('INBOX')).toBe('inbox');
    expect(placementOf('Junk')).toBe('junk');
    expect(placementOf('Roskaposti', '\\Junk')).toBe('junk');
    expect(placementOf('[Gmail]/Spam', undefined, '/')).toBe('junk');
    expect(placementOf('Archive')).toBe('other');
  });

  test('queue ids from SMTP answers', () => {
    expect(queueIdFromResponse('250 Message queued as 18c5e4a0c5e0004f2a')).toBe('18c5e4a0c5e0004f2a');
    expect(queueIdFromResponse('250 2.0.0 Ok: queued as 4FZ1x23abc')).toBe('4FZ1x23abc');
    expect(queueIdFromResponse('250 OK')).toBeUndefined();
  });

  test("ZoneMTA's GET /message/:id: a DEFERRED recipient, else queued", () => {
    expect(parseZoneMtaInfo({ meta: {}, messages: [{ id: 'x', seq: '001', status: 'QUEUED' }] })).toEqual({ status: 'queued' });
    expect(
      parseZoneMtaInfo({ meta: {}, messages: [{ id: 'x', seq: '001', status: 'DEFERRED', deferred: { first: 1, count: 1, response: 'Network error when connecting to MX server 127.0.0.1[127.0.0.1] for example.com: connect ECONNREFUSED' } }] }),
    ).toEqual({ status: 'deferred', response: expect.stringContaining('ECONNREFUSED') });
    expect(parseZoneMtaInfo('nonsense')).toEqual({ status: 'queued' });
  });
});

describe('state file', () => {
  const good = { route: 'r', token: '0123456789abcdef0123456789abcdef', sentAt: 1764619200000, outcome: 'pending' };

  test('round trip through the file, written atomically with mode 600', () => {
    const path = join(dir, 'state', 'probe.json');
    const file = new StateFile(path);
    expect(file.load()).toEqual([]);
    file.save([{ ...good, outcome: 'failed', queueId: '18c5e4a0c5e0004f2a' } as never]);
    expect(file.load()).toEqual([{ ...good, outcome: 'failed', queueId: '18c5e4a0c5e0004f2a' }]);
    expect(JSON.parse(readFileSync(path, 'utf8')).version).toBe(1);
  });

  test('malformed entries are dropped and reported, good ones kept', () => {
    const dropped: string[] = [];
    const list = parseState(JSON.stringify({ messages: [good, { ...good, token: 'short' }, { ...good, outcome: 'maybe' }, null, { ...good, queueId: 'bad id!' }] }), (w) => dropped.push(w));
    expect(list).toEqual([good, good]);
    expect(dropped).toEqual(['a malformed entry', 'a malformed entry', 'a malformed entry']);
    expect(parseState('{', (w) => dropped.push(w))).toEqual([]);
    expect(dropped.pop()).toBe('the state file is not JSON');
  });
});
