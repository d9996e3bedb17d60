/**
 * Each upstream log-line shape gives exactly the mail samples it should, and nothing else.
 * WildDuck, Haraka and ZoneMTA do not run here: test/gelf/upstream-lines.ts holds their messages as the
 * upstream code builds them. test/gelf/clients.test.ts sends the same lines through the real GELF clients.
 */
import { sample } from '../helpers/exposition';
import { mailSamples, newReceiver } from './helpers';
import { ERROR_KINDS } from '../../exporters/gelf/errors';
import { UPSTREAM_LINES } from './upstream-lines';

describe.each(UPSTREAM_LINES.map((l) => [l.name, l] as const))('%s', (_name, line) => {
  test('gives exactly its samples', async () => {
    const { receiver, registry } = newReceiver();
    expect(receiver.receive(Buffer.from(JSON.stringify(line.message)), 'udp', 'src')).toBe('message');
    const text = await registry.metrics();
    expect(mailSamples(text)).toEqual([...line.samples].sort());
    expect(sample(text, 'gelf_messages_total', { component: String(line.message._component) })).toBe(1);
  });
});

describe('labels stay bounded', () => {
  test('unknown components are other, a missing one is none', async () => {
    const { receiver, registry } = newReceiver();
    receiver.receive(Buffer.from('{"short_message":"x","_component":"webmail"}'), 'udp', 's');
    receiver.receive(Buffer.from('{"short_message":"x","_component":"alice@example.com"}'), 'udp', 's');
    receiver.receive(Buffer.from('{"short_message":"x"}'), 'tcp', 's');
    receiver.receive(Buffer.from('{"_component":"mx","_mail_action":"rcpt_to","_rate_limit":"yes","_selector":"bob@example.com"}'), 'udp', 's');
    const text = await registry.metrics();
    expect(sample(text, 'gelf_mx_rate_limit_hits_total', { selector: 'other' })).toBe(1);
    expect(sample(text, 'gelf_messages_total', { component: 'other' })).toBe(2);
    expect(sample(text, 'gelf_messages_total', { component: 'none' })).toBe(1);
    expect(text).not.toContain('alice');
  });

  test('configured zones and reject codes; without a zone list the first 32 zones, then other', async () => {
    const { receiver, registry } = newReceiver({ zones: ['default'], rejectCodes: ['MY_SYMBOL'] });
    const send = (o: object) => receiver.receive(Buffer.from(JSON.stringify(o)), 'udp', 's');
    send({ _mail_action: 'accepted', _zone: 'default' });
    send({ _mail_action: 'accepted', _zone: 'bulk' });
    send({ _mail_action: 'deny', _reject_code: 'MY_SYMBOL' });
    const text = await registry.metrics();
    expect(sample(text, 'gelf_mta_messages_total', { action: 'accepted', zone: 'default', category: 'none' })).toBe(1);
    expect(sample(text, 'gelf_mta_messages_total', { action: 'accepted', zone: 'other', category: 'none' })).toBe(1);
    expect(sample(text, 'gelf_mx_recipients_rejected_total', { code: 'MY_SYMBOL' })).toBe(1);

    const open = newReceiver();
    for (let i = 0; i < 40; i++) open.receiver.receive(Buffer.from(JSON.stringify({ _mail_action: 'deferred', _zone: `z${i}` })), 'udp', 's');
    const zones = new Set([...(await open.registry.metrics()).matchAll(/gelf_mta_messages_total\{[^}]*zone="([^"]+)"/g)].map((m) => m[1]));
    expect(zones.size).toBe(33);
    expect(zones.has('other')).toBe(true);
  });

  test('no address, user name, user id or IP from the upstream lines reaches a label', async () => {
    const { receiver, registry } = newReceiver();
    for (const line of UPSTREAM_LINES) receiver.receive(Buffer.from(JSON.stringify(line.message)), 'udp', 's');
    const text = await registry.metrics();
    for (const secret of ['@', '192.0.2', '198.51.100', '203.0.113', 'u1"', '65a1b2c3', 'sess']) {
      expect(text.split('\n').filter((l) => !l.startsWith('#') && l.includes(secret))).toEqual([]);
    }
  });
});

describe('WildDuck error lines', () => {
  test('an action or _tnx named like an Object property is no kind; every kind is one of ERROR_KINDS', async () => {
    const { receiver, registry } = newReceiver();
    const send = (o: object) => receiver.receive(Buffer.from(JSON.stringify(o)), 'udp', 's');
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      send({ _component: 'wildduck', _mail_action: name });
      send({ _component: 'wildduck', _tnx: name });
    }
    for (const line of UPSTREAM_LINES) send(line.message);
    const kinds = new Set([...(await registry.metrics()).matchAll(/gelf_wildduck_errors_total\{[^}]*kind="([^"]+)"/g)].map((m) => m[1]));
    expect([...kinds].filter((k) => !(ERROR_KINDS as readonly string[]).includes(k))).toEqual([]);
    // every kind has an upstream line that feeds it
    expect([...kinds].sort()).toEqual([...ERROR_KINDS].sort());
  });
});
