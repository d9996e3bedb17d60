/**
 * Label helpers and config parsing of the ZoneMTA plugin on literal inputs (responses as ZoneMTA's
 * bounces.formatSMTPResponse leaves them, MX names as real providers publish them).
 */
import { DEFAULT_DESTINATIONS, parseSettings, remoteLogReachesReceiver } from '../../../plugins/zonemta/src/config';
import { QueueTimeTracker } from '../../../plugins/zonemta/src/queue-time';
import {
  BoundedLabel,
  DestinationGroups,
  attemptLabel,
  isIpAddress,
  reasonSlug,
  responseClasses,
} from '../../../plugins/zonemta/src/labels';

describe('responseClasses', () => {
  test.each([
    ['250 2.0.0 OK  1700000000 a1-20020a170906 - gsmtp', '2xx', '2.0'],
    ['250 Ok: queued as 4Bq3', '2xx', 'none'],
    ['421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred', '4xx', '4.7'],
    ['450-4.2.1 The user you are trying to contact is receiving mail too quickly', '4xx', '4.2'],
    ['550 5.1.1 <nobody@example.org>: Recipient address rejected', '5xx', '5.1'],
    ['554 5.9.1 odd subject code', '5xx', 'other'],
    ['Connection timed out', 'none', 'none'],
    ['', 'none', 'none'],
  ])('%s', (response, code, enhanced) => {
    expect(responseClasses(response)).toEqual({ code, enhanced });
  });

  test('non-strings are none', () => {
    expect(responseClasses(undefined)).toEqual({ code: 'none', enhanced: 'none' });
    expect(responseClasses(550)).toEqual({ code: 'none', enhanced: 'none' });
  });
});

describe('DestinationGroups', () => {
  const groups = new DestinationGroups(DEFAULT_DESTINATIONS);

  test.each([
    ['someone@gmail.com', 'gmail-smtp-in.l.google.com', 'google'],
    ['someone@workspace-customer.example', 'aspmx.l.google.com', 'google'], // hosted domain, found by its MX
    ['someone@contoso.example', 'contoso-example.mail.protection.outlook.com', 'microsoft'],
    ['someone@HOTMAIL.COM', 'hotmail-com.olc.protection.outlook.com.', 'microsoft'],
    ['someone@aol.com', 'mx-aol.mail.gm0.yahoodns.net', 'yahoo'],
    ['someone@sub.yandex.ru', undefined, 'yandex'],
    ['someone@example.org', 'mx.example.org', 'other'],
    ['someone@notgmail.com', 'mx.notgmail.com', 'other'], // a suffix match is by whole labels
    [undefined, undefined, 'other'],
  ])('%s via %s', (to, mx, group) => {
    expect(groups.group(to, mx)).toBe(group);
  });
});

test('BoundedLabel keeps the first N names, then other; free text and addresses are never labels', () => {
  const label = new BoundedLabel(2);
  expect(label.value('default')).toBe('default');
  expect(label.value('bulk')).toBe('bulk');
  expect(label.value('third')).toBe('other');
  expect(label.value('default')).toBe('default');
  expect(label.value(undefined)).toBe('none');
  expect(new BoundedLabel(5).value('with space')).toBe('other');
  expect(new BoundedLabel(5).value('user@example.com')).toBe('other');
  const ips = new BoundedLabel(5, isIpAddress);
  expect(ips.value('2001:db8::1')).toBe('2001:db8::1');
  expect(ips.value('mail.example.com')).toBe('other');
});

test('attemptLabel', () => {
  expect(attemptLabel(1)).toBe('1');
  expect(attemptLabel(20)).toBe('20');
  expect(attemptLabel(21)).toBe('21+');
  expect(attemptLabel(0)).toBe('none');
  expect(attemptLabel('x')).toBe('none');
});

test('reasonSlug', () => {
  expect(reasonSlug({ description: 'spam' })).toBe('spam');
  expect(reasonSlug({ description: 'Rate limit exceeded!' })).toBe('rate_limit_exceeded');
  expect(reasonSlug({ reason: 'Recipient was found from suppression list' })).toBe('suppressed');
  expect(reasonSlug({ description: 'blocked for a@b.example' })).toBe('other');
  expect(reasonSlug({ error: 'Queue not yet initialized' })).toBe('error');
  expect(reasonSlug({})).toBe('none');
});

test('QueueTimeTracker pairs a fetch with its outcome once, and stays bounded', () => {
  const tracker = new QueueTimeTracker();
  tracker.fetched('18c1', '001', '2026-01-01T00:00:00.000Z');
  expect(tracker.finished('18c1', '001', Date.parse('2026-01-01T00:01:30.000Z'))).toBe(90);
  expect(tracker.finished('18c1', '001')).toBeUndefined();
  tracker.fetched('18c1', '002', 'not a date');
  expect(tracker.size).toBe(0);
  for (let i = 0; i < 10050; i++) tracker.fetched('id', i, Date.now());
  expect(tracker.size).toBe(10000);
});

describe('parseSettings', () => {
  test('defaults: /metrics on 127.0.0.1:9747 without a web config, log receiver on 127.0.0.1:9748', () => {
    const s = parseSettings(true);
    expect(s.listen).toEqual({ host: '127.0.0.1', port: 9747 });
    expect(s.webConfigFile).toBe('');
    expect(s.logListen).toEqual({ host: '127.0.0.1', port: 9748 });
    expect(Object.keys(s.destinations)).toContain('google');
  });

  test('addresses and destinations from the plugin section', () => {
    const s = parseSettings({ enabled: ['main'], listen: '[::1]:9999', logListen: ':9000', destinations: { partner: ['*.partner.example'] } });
    expect(s.listen).toEqual({ host: '::1', port: 9999 });
    expect(s.logListen).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(s.destinations).toEqual({ partner: ['partner.example'] });
  });

  test.each([
    [{ listen: 'nowhere' }, /listen must look like/],
    [{ logListen: '127.0.0.1:70000' }, /logListen must look like/],
    [{ maxZones: 0 }, /maxZones must be a positive integer/],
    [{ webConfigFile: '' }, /webConfigFile must be a file path/],
    [{ destinations: ['gmail.com'] }, /destinations must be an object/],
    [{ destinations: { other: ['x.example'] } }, /must match .* and not be "other"/],
    [{ destinations: { big: 'gmail.com' } }, /must be a list of domains/],
  ])('%j is refused', (config, message) => {
    expect(() => parseSettings(config)).toThrow(message);
  });
});

test('remoteLogReachesReceiver: forwarding is off only when ZoneMTA already sends to the receiver', () => {
  const loopback = { host: '127.0.0.1', port: 9748 };
  expect(remoteLogReachesReceiver({ protocol: 'udp4', host: '127.0.0.1', port: 9748 }, loopback)).toBe(true);
  expect(remoteLogReachesReceiver({ protocol: 'udp4', host: false, port: '9748' }, loopback)).toBe(true); // wild-plugins: localhost
  expect(remoteLogReachesReceiver({ protocol: 'udp4', host: '127.0.0.1', port: 31239 }, loopback)).toBe(false); // ZMTA-WebAdmin
  expect(remoteLogReachesReceiver({ protocol: 'udp4', host: '10.0.0.9', port: 9748 }, loopback)).toBe(false);
  expect(remoteLogReachesReceiver({ protocol: 'udp4', host: '10.0.0.9', port: 9748 }, { host: '', port: 9748 })).toBe(true);
  expect(remoteLogReachesReceiver(false, loopback)).toBe(false);
  expect(remoteLogReachesReceiver(undefined, loopback)).toBe(false);
});
