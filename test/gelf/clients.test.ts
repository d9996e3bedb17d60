/**
 * The GELF exporter with real senders over loopback: npm gelf@2.0.1 (what WildDuck, haraka-plugin-wildduck and
 * zonemta-wildduck use) with connection 'lan' and 'wan', gelf-pro over UDP and TCP, spec-chunked gzip datagrams,
 * forwarding, the TCP caps, and the exporter behind the kit's HTTP server.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import { definition, type GelfExporter } from '../../exporters/gelf';
import { runExporter } from '../../exporters/kit/run';
import { silentLogger } from '../../exporters/kit/log';
import { sample, total } from '../helpers/exposition';
import { mailSamples, startGelf, type StartedGelf, waitFor } from './helpers';
import { UPSTREAM_LINES } from './upstream-lines';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Gelf = require('gelf');

/** What all UPSTREAM_LINES together must give: the per-line samples added up. */
function expectedTotals(times: number): string[] {
  const totals = new Map<string, number>();
  for (const line of UPSTREAM_LINES) {
    for (const s of line.samples) {
      const at = s.lastIndexOf(' ');
      totals.set(s.slice(0, at), (totals.get(s.slice(0, at)) ?? 0) + Number(s.slice(at + 1)) * times);
    }
  }
  return [...totals].map(([k, v]) => `${k} ${Math.round(v * 1e6) / 1e6}`).sort();
}

const rounded = (lines: string[]) => lines.map((l) => l.replace(/ (\S+)$/, (_m, v) => ` ${Math.round(Number(v) * 1e6) / 1e6}`));

function sendGelf(client: { emit(ev: string, msg: object, cb: (err: Error | null) => void): void }, msg: object): Promise<void> {
  return new Promise((resolve, reject) => client.emit('gelf.log', msg, (err) => (err ? reject(err) : resolve())));
}

function udpSend(port: number, packets: Buffer[]): Promise<void> {
  const socket = dgram.createSocket('udp4');
  return new Promise<void>((resolve, reject) => {
    let i = 0;
    const next = (err?: Error | null) => {
      if (err) return reject(err);
      if (i === packets.length) return socket.close(() => resolve());
      socket.send(packets[i++], port, '127.0.0.1', next);
    };
    next();
  });
}

describe('real GELF clients', () => {
  let gelf: StartedGelf;
  beforeEach(async () => {
    gelf = await startGelf();
  });
  afterEach(() => gelf.stop());

  test.each(['lan', 'wan'])("gelf@2.0.1 connection '%s': every upstream line, and chunked large messages", async (connection) => {
    const client = new Gelf({ graylogPort: gelf.exporter.udpPort, graylogHostname: '127.0.0.1', connection });
    for (const line of UPSTREAM_LINES) await sendGelf(client, line.message);
    // a WildDuck error with a stack trace big enough to be chunked (8154 bytes 'lan', 1420 'wan' after zlib)
    const big = { short_message: 'WILDDUCK [AUTHFAIL] alice', _component: 'wildduck', _auth_result: 'error', _scope: 'imap', full_message: randomBytes(20_000).toString('base64') };
    for (let i = 0; i < 5; i++) await sendGelf(client, big);
    client.closeSocket();

    await waitFor(async () => (await gelf.outcomes()) === UPSTREAM_LINES.length + 5, 5000, 'all messages');
    const text = await gelf.metrics();
    expect(total(text, 'gelf_decode_errors_total')).toBe(0);
    expect(sample(text, 'gelf_auth_attempts_total', { component: 'wildduck', scope: 'imap', result: 'error' })).toBe(5);
    expect(sample(text, 'gelf_packets_total', { protocol: 'udp' })).toBeGreaterThan(UPSTREAM_LINES.length + 5 * (connection === 'lan' ? 1 : 10));
    const withoutBig = mailSamples(text).filter((l) => !l.includes('result="error"'));
    expect(rounded(withoutBig)).toEqual(expectedTotals(1));
  });

  test('gelf-pro over UDP (always spec-chunked) and TCP (\\0-terminated frames)', async () => {
    for (const adapterName of ['udp', 'tcp']) {
      // gelf-pro keeps its adapter once created: drop it to switch transports
      const client = require('gelf-pro');
      client.adapter = undefined;
      const port = adapterName === 'udp' ? gelf.exporter.udpPort : gelf.exporter.tcpPort;
      client.setConfig({ adapterName, adapterOptions: { host: '127.0.0.1', port, family: 4 }, fields: { component: 'mx' } });
      await new Promise<void>((resolve, reject) =>
        client.info('[RCPT TO:alice@example.com] x', { mail_action: 'rcpt_to', rcpt_accepted: 'yes' }, (err: Error | null) => (err ? reject(err) : resolve())),
      );
      // large enough for several UDP chunks
      await new Promise<void>((resolve, reject) => client.error('[DENY] y', { mail_action: 'deny', reject_code: 'RATE_LIMIT', blob: randomBytes(6000).toString('hex') }, (err: Error | null) => (err ? reject(err) : resolve())));
    }
    await waitFor(async () => (await gelf.outcomes()) === 4, 5000, 'gelf-pro messages');
    const text = await gelf.metrics();
    expect(sample(text, 'gelf_messages_total', { component: 'mx' })).toBe(4);
    expect(sample(text, 'gelf_mx_recipients_accepted_total')).toBe(2);
    expect(sample(text, 'gelf_mx_recipients_rejected_total', { code: 'RATE_LIMIT' })).toBe(2);
    expect(sample(text, 'gelf_packets_total', { protocol: 'tcp' })).toBe(2);
  });

  test('spec-chunked gzip and zlib datagrams, out of order, and a zip bomb', async () => {
    const packets: Buffer[] = [];
    for (const compress of [gzipSync, deflateSync]) {
      const payload = compress(Buffer.from(JSON.stringify({ version: '1.1', host: 'h', short_message: 'MTA [ACCEPTED] a', _component: 'mta', _mail_action: 'accepted', _zone: 'default', pad: randomBytes(4000).toString('hex') })));
      const id = randomBytes(8);
      const parts: Buffer[] = [];
      for (let i = 0; i < payload.length; i += 1000) parts.push(payload.subarray(i, i + 1000));
      const chunks = parts.map((p, seq) => Buffer.concat([Buffer.from([0x1e, 0x0f]), id, Buffer.from([seq, parts.length]), p]));
      packets.push(...chunks.reverse());
    }
    packets.push(deflateSync(Buffer.alloc(16 * 1024 * 1024, 0x20))); // 16 MiB of spaces in one datagram
    await udpSend(gelf.exporter.udpPort, packets);
    await waitFor(async () => (await gelf.outcomes()) === 3, 5000, 'three outcomes');
    const text = await gelf.metrics();
    expect(sample(text, 'gelf_mta_messages_total', { action: 'accepted', zone: 'default', category: 'none' })).toBe(2);
    expect(sample(text, 'gelf_decode_errors_total', { reason: 'too_large' })).toBe(1);
    expect(sample(text, 'gelf_pending_messages')).toBe(0);
  });
});

describe('TCP limits', () => {
  test('an oversized frame is counted and skipped; the connection goes on', async () => {
    const gelf = await startGelf(['--gelf.max-tcp-frame-bytes=1000']);
    try {
      const socket = net.connect(gelf.exporter.tcpPort, '127.0.0.1');
      const ok = JSON.stringify({ short_message: 'x', _component: 'wildduck' });
      socket.end(Buffer.from(`${ok}\0{"pad":"${'x'.repeat(5000)}"}\0${ok}\0`));
      await waitFor(async () => (await gelf.outcomes()) === 3, 5000, 'three frames');
      const text = await gelf.metrics();
      expect(sample(text, 'gelf_messages_total', { component: 'wildduck' })).toBe(2);
      expect(sample(text, 'gelf_decode_errors_total', { reason: 'too_large' })).toBe(1);
      expect(sample(text, 'gelf_packets_total', { protocol: 'tcp' })).toBe(3);
    } finally {
      await gelf.stop();
    }
  });

  test('connections over the cap are closed at once and counted, when none is idle', async () => {
    const gelf = await startGelf(['--gelf.max-tcp-connections=2', '--gelf.tcp-evict-idle-after=1h']);
    const sockets: net.Socket[] = [];
    try {
      const open = () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect(gelf.exporter.tcpPort, '127.0.0.1', () => resolve(s));
          s.on('error', () => undefined);
          sockets.push(s);
        });
      await open();
      await open();
      await waitFor(async () => sample(await gelf.metrics(), 'gelf_tcp_connections') === 2, 5000, 'two connections');
      const third = await open();
      await new Promise((resolve) => third.once('close', resolve));
      await waitFor(async () => sample(await gelf.metrics(), 'gelf_tcp_connections_refused_total', { reason: 'max_connections' }) === 1, 5000, 'refusal counted');
      expect(sample(await gelf.metrics(), 'gelf_tcp_connections')).toBe(2);
    } finally {
      for (const s of sockets) s.destroy();
      await gelf.stop();
    }
  });
});

describe('--gelf.forward-address', () => {
  /** An upstream GELF receiver: UDP and TCP on one port, recording what arrives. */
  async function upstream() {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const port = (udp.address() as AddressInfo).port;
    const datagrams: Buffer[] = [];
    udp.on('message', (m) => datagrams.push(m));
    let tcpBytes = Buffer.alloc(0);
    const tcp = net.createServer((s) => s.on('data', (d) => (tcpBytes = Buffer.concat([tcpBytes, d]))));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, '127.0.0.1', resolve);
    });
    return {
      port,
      datagrams,
      tcpBytes: () => tcpBytes,
      close: () => new Promise<void>((r) => { udp.close(); tcp.close(() => r()); }),
    };
  }

  test('every datagram and frame reaches the upstream unchanged, while being counted', async () => {
    const up = await upstream();
    const gelf = await startGelf([`--gelf.forward-address=127.0.0.1:${up.port}`]);
    try {
      const packets = [deflateSync('{"short_message":"a","_component":"mx"}'), Buffer.from('not gelf at all')];
      await udpSend(gelf.exporter.udpPort, packets);
      const frames = '{"short_message":"b","_component":"mta"}\0{"short_message":"c"}\0';
      net.connect(gelf.exporter.tcpPort, '127.0.0.1').end(frames);
      await waitFor(() => up.datagrams.length === 2 && up.tcpBytes().length === frames.length, 5000, 'forwarded data');
      expect(up.datagrams.map((d) => d.toString('hex'))).toEqual(packets.map((p) => p.toString('hex')));
      expect(up.tcpBytes().toString()).toBe(frames);
      const text = await gelf.metrics();
      expect(sample(text, 'gelf_forwarded_total', { protocol: 'udp' })).toBe(2);
      expect(sample(text, 'gelf_forwarded_total', { protocol: 'tcp' })).toBe(2);
      expect(sample(text, 'gelf_messages_total', { component: 'mx' })).toBe(1);
      expect(sample(text, 'gelf_decode_errors_total', { reason: 'unknown_format' })).toBe(1);
    } finally {
      await gelf.stop();
      await up.close();
    }
  });

  test('an unreachable upstream costs counted drops, never the counting', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const gelf = await startGelf([`--gelf.forward-address=127.0.0.1:${port}`]);
    try {
      const frames = Array.from({ length: 20 }, (_, i) => `{"short_message":"MTA [QUEUED] ${i}","_component":"mta","_mail_action":"queued"}\0`).join('');
      net.connect(gelf.exporter.tcpPort, '127.0.0.1').end(frames);
      await waitFor(async () => {
        const text = await gelf.metrics();
        return total(text, 'gelf_forward_dropped_total') + total(text, 'gelf_forwarded_total') === 20;
      }, 5000, 'every frame forwarded or dropped');
      const text = await gelf.metrics();
      expect(sample(text, 'gelf_forward_dropped_total', { protocol: 'tcp' })).toBe(20);
      expect(sample(text, 'gelf_mta_messages_total', { action: 'queued', zone: 'none', category: 'none' })).toBe(20);
    } finally {
      await gelf.stop();
    }
  });
});

describe('behind the kit', () => {
  test('gelf_up 1 on /metrics while listening; stop frees the GELF ports', async () => {
    const running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', '--gelf.listen-address=127.0.0.1:0'], { env: {}, log: silentLogger });
    const exporter = running.exporter as GelfExporter;
    const { udpPort, tcpPort } = exporter;
    await udpSend(udpPort, [Buffer.from('{"short_message":"WILDDUCK x","_component":"wildduck"}')]);
    await waitFor(async () => sample(await running.registry.metrics(), 'gelf_messages_total', { component: 'wildduck' }) === 1);
    const text = await (await fetch(`${running.url}/metrics`)).text();
    expect(sample(text, 'gelf_up')).toBe(1);
    expect(sample(text, 'gelf_messages_total', { component: 'wildduck' })).toBe(1);
    expect(text).toContain('# HELP gelf_decode_errors_total ');
    await running.stop();

    // both ports are free again
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(udpPort, '127.0.0.1', () => udp.close(() => resolve()));
    });
    const tcp = net.createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(tcpPort, '127.0.0.1', () => tcp.close(() => resolve()));
    });
  });

  test('a bad cap is a flag error', async () => {
    await expect(runExporter(definition, ['--web.listen-address=127.0.0.1:0', '--gelf.listen-address=127.0.0.1:0', '--gelf.max-pending-messages=0'], { env: {}, log: silentLogger })).rejects.toThrow(
      /--gelf.max-pending-messages/,
    );
  });
});
