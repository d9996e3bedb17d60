/**
 * The GELF transport under a hostile or bursty peer: TCP slots per source and idle eviction (real connections
 * from 127.0.0.1 and 127.0.0.2, both loopback), and kernel UDP drops read from /proc/net/udp (a real exporter process
 * whose tiny socket buffer overflows while the process is stopped).
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DatagramBacklog, type Queued } from '../../exporters/gelf/backlog';
import { parseProcNetUdp, UdpSocketStats } from '../../exporters/gelf/procnet';
import { type Slot, SlotTable, sourceOf } from '../../exporters/gelf/slots';
import { UdpReader } from '../../exporters/gelf/udpreader';
import { sample, total } from '../helpers/exposition';
import { startGelf, type StartedGelf, waitFor } from './helpers';

// Two lines as Linux net/ipv4/udp.c udp4_format_sock prints them (header, then one line per socket).
const PROC_NET_UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:2F59 00000000:0000 07 00000000:00000A80 00:00000000 00000000     0        0 4242 2 ffff8881034d8000 17
  456: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99 2 ffff8881034d8400 0
  garbage line
`;

describe('parseProcNetUdp', () => {
  test('reads port, receive queue, inode and drops; skips lines that are not sockets', () => {
    expect(parseProcNetUdp(PROC_NET_UDP)).toEqual([
      { localPort: 12121, rxQueueBytes: 0xa80, inode: 4242, drops: 17 },
      { localPort: 68, rxQueueBytes: 0, inode: 99, drops: 0 },
    ]);
  });

  test('finds its socket by inode, not by port alone', () => {
    const text = PROC_NET_UDP.replace(' 0100007F:0044', ' 0100007F:2F59'); // another socket, same port
    const stats = new UdpSocketStats('udp4', 12121, () => text, () => new Set([4242]));
    expect(stats.current()).toMatchObject({ inode: 4242, drops: 17 });
  });
});

describe('DatagramBacklog', () => {
  test('decodes in arrival order off the read path, drops and counts what exceeds its bytes, flushes on stop', async () => {
    const handled: string[] = [];
    const backlog = new DatagramBacklog(10, (q: Queued) => handled.push(`${q.buf}@${q.source}`));
    backlog.push(Buffer.from('aaaa'), 's1');
    backlog.push(Buffer.from('bbbb'), '');
    backlog.push(Buffer.from('cccc'), ''); // 12 bytes > 10: dropped
    expect(handled).toEqual([]); // nothing decoded inside push (the socket's 'message' handler)
    expect(backlog.queuedBytes).toBe(8);
    expect(backlog.dropped).toBe(1);
    await waitFor(() => handled.length === 2, 5000, 'the queue drained');
    expect(handled).toEqual(['aaaa@s1', 'bbbb@']);
    expect(backlog.queuedBytes).toBe(0);
    backlog.push(Buffer.from('dd'), '');
    backlog.flush();
    expect(handled).toEqual(['aaaa@s1', 'bbbb@', 'dd@']);
  });
});

describe('UdpReader', () => {
  test('a reader thread that dies is started again on the same port, and datagrams arrive again', async () => {
    const got: string[] = [];
    const restarts: string[] = [];
    const reader = new UdpReader({
      family: 'udp4',
      host: '127.0.0.1',
      port: 0,
      receiveBufferBytes: 1 << 20,
      maxInFlightBytes: 1 << 20,
      onDatagrams: (bufs) => got.push(...bufs.map(String)),
      onWarning: () => undefined,
      onRestart: (reason) => restarts.push(reason),
    });
    await reader.start();
    const port = reader.port;
    const sender = dgram.createSocket('udp4');
    try {
      // Killing the thread stands for a crash inside it.
      await (reader as unknown as { worker: Worker }).worker.terminate();
      await waitFor(() => restarts.length === 1, 10_000, 'the restart');
      await waitFor(async () => {
        sender.send('again', port, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 20));
        return got.includes('again');
      }, 10_000, 'a datagram through the new reader');
      expect(reader.port).toBe(port);
    } finally {
      sender.close();
      await reader.stop();
    }
  });
});

describe('sourceOf and SlotTable', () => {
  test.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:bbbb:cccc:dddd:eeee', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    [undefined, 'unknown'],
  ])('%p counts as source %p', (address, source) => {
    expect(sourceOf(address)).toBe(source);
  });

  const slot = (source: string, lastActive: number, busy = false): Slot => ({ source, lastActive, busy: () => busy });

  test('a source at its cap gets its own idlest slot back, or is refused when none is idle', () => {
    const table = new SlotTable<Slot>(10, 2, 1000);
    const [a, b] = [slot('a', 0), slot('a', 500)];
    table.add(a);
    table.add(b);
    expect(table.admit('a', 900)).toEqual({ admit: false, reason: 'source_limit' });
    expect(table.admit('b', 900)).toEqual({ admit: true });
    expect(table.admit('a', 1200)).toEqual({ admit: true, evict: a });
  });

  test('a full table evicts the slot idle longest of any source, never one holding a partial frame', () => {
    const table = new SlotTable<Slot>(3, 3, 1000);
    const held = slot('a', 0, true);
    const older = slot('b', 100);
    table.add(held);
    table.add(older);
    table.add(slot('a', 200));
    expect(table.admit('c', 500)).toEqual({ admit: false, reason: 'max_connections' });
    expect(table.admit('c', 5000)).toEqual({ admit: true, evict: older });
    table.remove(older);
    expect(table.size).toBe(2);
  });
});

/** Opens a TCP connection to the exporter from `localAddress`; resolves once connected. */
function connectFrom(port: number, localAddress: string, sockets: net.Socket[]): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
    s.once('error', reject);
    sockets.push(s);
  });
}

const closed = (s: net.Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
const frame = (msg: string) => JSON.stringify({ short_message: msg, _component: 'mta' }) + '\0';

describe('GELF TCP slots', () => {
  let gelf: StartedGelf;
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await gelf.stop();
  });

  test('one address holding idle connections cannot lock out a shipper from another address', async () => {
    gelf = await startGelf(['--gelf.max-tcp-connections=8', '--gelf.max-tcp-connections-per-source=4', '--gelf.tcp-evict-idle-after=1h']);
    const port = gelf.exporter.tcpPort;
    for (let i = 0; i < 6; i++) await connectFrom(port, '127.0.0.1', sockets);
    // Past the per-source cap the server closes the new ones at once.
    await Promise.all(sockets.slice(4).map(closed));
    await waitFor(async () => sample(await gelf.metrics(), 'gelf_tcp_connections_refused_total', { reason: 'source_limit' }) === 2, 10_000, 'two refusals');
    expect(sample(await gelf.metrics(), 'gelf_tcp_connections')).toBe(4);

    const shipper = await connectFrom(port, '127.0.0.2', sockets);
    shipper.write(frame('from the real shipper'));
    await waitFor(async () => sample(await gelf.metrics(), 'gelf_messages_total', { component: 'mta' }) === 1, 10_000, 'the shipper message');
    const text = await gelf.metrics();
    expect(sample(text, 'gelf_tcp_connections')).toBe(5);
    expect(sample(text, 'gelf_tcp_connections_refused_total', { reason: 'max_connections' })).toBe(0);
  });

  test('when every slot is held, the connection idle longest is closed to let a new shipper in', async () => {
    gelf = await startGelf(['--gelf.max-tcp-connections=3', '--gelf.max-tcp-connections-per-source=3', '--gelf.tcp-evict-idle-after=0s']);
    const port = gelf.exporter.tcpPort;
    const idle = [];
    for (let i = 0; i < 3; i++) idle.push(await connectFrom(port, '127.0.0.1', sockets));
    // The third one is busy: it holds half a frame, which closing it would lose.
    idle[2].write('{"short_message":"half');
    await waitFor(async () => sample(await gelf.metrics(), 'gelf_tcp_connections') === 3, 10_000, 'three connections');

    const shipper = await connectFrom(port, '127.0.0.2', sockets);
    shipper.write(frame('let in'));
    await closed(idle[0]); // the oldest idle one
    await waitFor(async () => sample(await gelf.metrics(), 'gelf_messages_total', { component: 'mta' }) === 1, 10_000, 'the new message');
    idle[2].write('"}\0'); // ...and the held one still completes its frame
    await waitFor(async () => total(await gelf.metrics(), 'gelf_messages_total') === 2, 10_000, 'the held frame');
    const text = await gelf.metrics();
    expect(sample(text, 'gelf_tcp_connections_evicted_total')).toBe(1);
    expect(sample(text, 'gelf_tcp_connections')).toBe(3);
    expect(idle[1].destroyed).toBe(false);
  });
});

const ROOT = join(__dirname, '../..');

// Sends `count` small GELF datagrams from its own thread, then sets flag[0] = 1 and wakes the waiter.
const BURST_SENDER = `
const { workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { port, count, flag } = workerData;
const s = dgram.createSocket('udp4');
const msg = Buffer.from(JSON.stringify({ short_message: 'burst', _component: 'wildduck' }));
let left = count;
for (let i = 0; i < count; i++) s.send(msg, port, '127.0.0.1', () => { if (--left === 0) s.close(() => { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); }); });
`;

describe('GELF UDP receive drops', () => {
  test('datagrams the kernel drops while the exporter process is stopped show in gelf_udp_receive_drops_total, and nothing else is lost', async () => {
    // The real command line as a process, so SIGSTOP halts its reader thread too: nothing reads the socket, whose
    // 4 KB buffer (Linux grants 8 KB) holds a few dozen datagrams; the rest of the burst is the kernel's to drop.
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'exporters/cli.ts'), 'gelf', '--gelf.listen-address=127.0.0.1:0', '--web.listen-address=127.0.0.1:0', '--gelf.udp-receive-buffer-bytes=4096'], {
      cwd: ROOT,
      env: { ...process.env, TINOMAIL_LOG_LEVEL: 'info' },
    });
    const exit = new Promise((resolve) => child.once('exit', resolve));
    try {
      let logs = '';
      const ports = await new Promise<{ udp: number; web: number }>((resolve, reject) => {
        child.stderr.on('data', (chunk) => {
          logs += chunk;
          const udp = /udp=127\.0\.0\.1:(\d+)/.exec(logs);
          const web = /msg=listening .*address=127\.0\.0\.1:(\d+)/.exec(logs);
          if (udp && web) resolve({ udp: Number(udp[1]), web: Number(web[1]) });
        });
        void exit.then(() => reject(new Error(`exited before listening: ${logs}`)));
      });
      const metrics = async () => (await fetch(`http://127.0.0.1:${ports.web}/metrics`)).text();
      expect(sample(await metrics(), 'gelf_udp_receive_drops_total')).toBe(0);

      const count = 2000;
      child.kill('SIGSTOP');
      try {
        const sender = dgram.createSocket('udp4');
        const msg = Buffer.from(JSON.stringify({ short_message: 'burst', _component: 'wildduck' }));
        await Promise.all(Array.from({ length: count }, () => new Promise((resolve) => sender.send(msg, ports.udp, '127.0.0.1', resolve))));
        sender.close();
      } finally {
        child.kill('SIGCONT');
      }
      let text = '';
      await waitFor(async () => {
        text = await metrics();
        return (sample(text, 'gelf_messages_total', { component: 'wildduck' }) ?? 0) + (sample(text, 'gelf_udp_receive_drops_total') ?? 0) === count;
      }, 20_000, 'every datagram decoded or counted as dropped');
      expect(sample(text, 'gelf_udp_receive_drops_total')).toBeGreaterThan(count / 2);
      expect(sample(text, 'gelf_messages_total', { component: 'wildduck' })).toBeGreaterThan(0);
      expect(sample(text, 'gelf_udp_receive_buffer_bytes')).toBeLessThan(64 * 1024);
    } finally {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exit;
    }
  });

  test('the drops are those of the exporter socket only, found by inode', async () => {
    // A socket of our own on another port overflows; the exporter's count stays 0.
    const gelf = await startGelf();
    const other = dgram.createSocket({ type: 'udp4', recvBufferSize: 4096 });
    try {
      await new Promise<void>((resolve) => other.bind(0, '127.0.0.1', resolve));
      const stats = new UdpSocketStats('udp4', other.address().port);
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(BURST_SENDER, { eval: true, workerData: { port: other.address().port, count: 500, flag } });
      Atomics.wait(flag, 0, 0, 60_000);
      await worker.terminate();
      expect(stats.current()?.drops).toBeGreaterThan(0);
      expect(sample(await gelf.metrics(), 'gelf_udp_receive_drops_total')).toBe(0);
    } finally {
      other.close();
      await gelf.stop();
    }
  });
});
