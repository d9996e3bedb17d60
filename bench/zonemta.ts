/**
 * ZoneMTA plugin benchmark (npx tsx bench/zonemta.ts [--quick]).
 *
 * 1. Log entries ingested per second by the master: msgpack-js decode + counting, against decode alone
 *    (the floor any log.remote consumer pays), then the same through a real UDP socket on loopback.
 * 2. Added cost per hook call in a sender process: the plugin loaded by ZoneMTA's loader against a plugin
 *    whose hooks do nothing, both timed in this run through PluginHandler.runHooks().
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as msgpack from 'msgpack-js';
import { Registry } from 'prom-client';
import { parseSettings } from '../plugins/zonemta/src/config';
import { LogIngest } from '../plugins/zonemta/src/ingest';
import { createMetrics } from '../plugins/zonemta/src/metrics';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const PluginHandler = require('@zone-eu/wild-plugins');

const quick = process.argv.includes('--quick');
const ENTRIES = quick ? 50_000 : 300_000;
const HOOK_CALLS = quick ? 20_000 : 100_000;
const REPO = path.resolve(__dirname, '..');

/** A realistic mix: what ZoneMTA's sender (lib/sender.js) and receivers (lib/mail-drop.js) log. */
function sampleEntries(): Buffer[] {
  const tls = { secure: true, tls: true, tlsVersion: 'TLSv1.3', tlsCipher: 'TLS_AES_256_GCM_SHA384', tlsAuthorized: true };
  const entries = [];
  for (let k = 0; k < 1000; k++) {
    const common = { zone: k % 7 === 0 ? 'bulk' : 'default', from: 'sender@example.com', ip: `192.0.2.${k % 4}`, messageId: `<${k}@example.com>`, protocol: 'smtp' };
    entries.push(
      { id: `18c${k}`, seq: '001', action: 'ACCEPTED', ...common, to: `u${k}@gmail.com`, mx: 'gmail-smtp-in.l.google.com', host: '142.250.1.26', response: '250 2.0.0 OK  1700000000 - gsmtp', size: 4096, timer: 900, start: 12, ...tls },
      { id: `18c${k}`, seq: '002', action: 'DEFERRED', ...common, category: 'rate', defcount: (k % 5) + 1, nextattempt: Date.now(), to: `u${k}@outlook.com`, mx: 'outlook-com.olc.protection.outlook.com', host: '52.101.68.0', response: '451 4.7.650 The mail server has been temporarily rate limited', timer: undefined, ...tls },
      { id: `18c${k}`, seq: '003', action: 'REJECTED', ...common, category: 'recipient', to: `n${k}@example.org`, mx: 'mx.example.org', host: '203.0.113.5', response: '550 5.1.1 <n@example.org>: User unknown', timer: 150, ...tls },
      { id: `18d${k}`, action: 'QUEUED', 'message-id': `<${k}@example.com>`, from: 'sender@example.com', to: `u${k}@gmail.com`, src: '198.51.100.7', subject: 'Hello', interface: 'feeder', transtype: 'ESMTPSA' },
    );
  }
  return entries.map(e => msgpack.encode(e));
}

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;
}

function timeLoop(n: number, payloads: Buffer[], fn: (b: Buffer) => void): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) fn(payloads[i % payloads.length]!);
  return performance.now() - start;
}

async function ingestBench(): Promise<void> {
  const payloads = sampleEntries();
  const ingest = new LogIngest(createMetrics(new Registry()), parseSettings(true));
  timeLoop(20_000, payloads, b => ingest.datagram(b)); // warm up
  timeLoop(20_000, payloads, b => msgpack.decode(b));
  const decodeMs = timeLoop(ENTRIES, payloads, b => msgpack.decode(b));
  const ingestMs = timeLoop(ENTRIES, payloads, b => ingest.datagram(b));
  console.log(`log entries, decode only (baseline):      ${rate(ENTRIES, decodeMs)}`);
  console.log(`log entries, decode + count (plugin):     ${rate(ENTRIES, ingestMs)}  (${(ingestMs / decodeMs).toFixed(2)}x the baseline time)`);

  // Through a UDP socket: batches small enough for a default receive buffer, the next sent when one arrived.
  const receiver = createSocket('udp4');
  const udpIngest = new LogIngest(createMetrics(new Registry()), parseSettings(true));
  let received = 0;
  let waiting: (() => void) | undefined;
  let target = 0;
  receiver.on('message', b => {
    udpIngest.datagram(b);
    if (++received >= target) waiting?.();
  });
  await new Promise<void>(resolve => receiver.bind(0, '127.0.0.1', () => resolve()));
  const port = receiver.address().port;
  const sender = createSocket('udp4');
  const batch = 100;
  const udpEntries = Math.min(ENTRIES, 100_000);
  const start = performance.now();
  for (let sent = 0; sent < udpEntries; sent += batch) {
    target = sent + batch;
    const arrived = new Promise<void>(resolve => (waiting = resolve));
    for (let i = 0; i < batch; i++) sender.send(payloads[(sent + i) % payloads.length]!, port, '127.0.0.1');
    await arrived;
  }
  const udpMs = performance.now() - start;
  console.log(`log entries over UDP loopback (1 sender):  ${rate(udpEntries, udpMs)}  (send, receive, decode, count)`);
  sender.close();
  receiver.close();
}

async function loadHandler(pluginsPath: string, key: string, config: Record<string, unknown>, log: Record<string, unknown>) {
  const quiet = { info: () => undefined, verbose: () => undefined, error: (...a: unknown[]) => console.error(...a) };
  const handler = new PluginHandler({ logger: quiet, context: 'sender', pluginsPath, plugins: { [key]: { enabled: ['main', 'sender', 'receiver'], ...config } }, log });
  await new Promise<void>(resolve => handler.load(() => resolve()));
  if (handler.loaded.length !== 1) throw new Error(`${key} did not load`);
  return handler;
}

async function timeHooks(handler: any, n: number): Promise<{ fetch: number; entry: number }> {
  const delivery = { id: '18c0001', seq: '001', domain: 'gmail.com', sendingZone: 'default', recipient: 'u@gmail.com', created: new Date().toISOString() };
  const entry = { id: '18c0001', seq: '001', action: 'ACCEPTED', zone: 'default', to: 'u@gmail.com', mx: 'gmail-smtp-in.l.google.com', host: '142.250.1.26', ip: '192.0.2.1', response: '250 2.0.0 OK', timer: 900, secure: true, tlsVersion: 'TLSv1.3' };
  // alternate like a sender does (fetch, then the outcome's log entry), timing each call on its own
  let fetch = 0;
  let logEntry = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await handler.runHooks('sender:fetch', [delivery]);
    const t1 = performance.now();
    await handler.runHooks('log:entry', [entry]);
    logEntry += performance.now() - t1;
    fetch += t1 - t0;
  }
  return { fetch: fetch / n, entry: logEntry / n };
}

async function hookBench(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'zonemta-bench-'));
  writeFileSync(
    path.join(dir, 'noop.js'),
    "module.exports.title = 'noop';\nmodule.exports.init = async app => {\n" +
      "  for (const hook of ['log:entry', 'sender:fetch', 'sender:tlserror']) app.addHook(hook, async () => undefined);\n};\n",
  );
  // a sink so forwarded datagrams go somewhere real
  const sink = createSocket('udp4');
  sink.on('message', () => undefined);
  await new Promise<void>(resolve => sink.bind(0, '127.0.0.1', () => resolve()));
  const logListen = `127.0.0.1:${sink.address().port}`;
  const remote = { remote: { protocol: 'udp4', host: '127.0.0.1', port: sink.address().port } };

  const noop = await loadHandler(dir, 'noop', {}, {});
  const viaRemote = await loadHandler(path.join(REPO, 'plugins'), 'zonemta', { logListen }, remote);
  const forwarding = await loadHandler(path.join(REPO, 'plugins'), 'zonemta', { logListen }, {});
  for (const h of [noop, viaRemote, forwarding]) await timeHooks(h, 5000); // warm up

  // interleaved rounds, median per variant: GC and JIT noise lands on all three alike
  const rounds: Record<'noop' | 'remote' | 'forwarding', { fetch: number; entry: number }[]> = { noop: [], remote: [], forwarding: [] };
  for (let round = 0; round < 7; round++) {
    rounds.noop.push(await timeHooks(noop, HOOK_CALLS / 7));
    rounds.remote.push(await timeHooks(viaRemote, HOOK_CALLS / 7));
    rounds.forwarding.push(await timeHooks(forwarding, HOOK_CALLS / 7));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
  const med = (k: keyof typeof rounds) => ({ fetch: median(rounds[k].map(x => x.fetch)), entry: median(rounds[k].map(x => x.entry)) });
  const [base, r, f] = [med('noop'), med('remote'), med('forwarding')];
  const us = (ms: number) => `${(ms * 1000).toFixed(2)} µs`;
  const added = (ms: number) => `${ms >= 0 ? '+' : ''}${us(ms)}`;
  console.log(`hook call, no-op plugin (baseline):          sender:fetch ${us(base.fetch)}  log:entry ${us(base.entry)}`);
  console.log(`added by zonemta-tinomail, log.remote set:   sender:fetch ${added(r.fetch - base.fetch)}  log:entry ${added(r.entry - base.entry)}`);
  console.log(`added by zonemta-tinomail, forwarding mode:  sender:fetch ${added(f.fetch - base.fetch)}  log:entry ${added(f.entry - base.entry)} (encodes and sends each entry)`);

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  await require(path.join(REPO, 'plugins', 'zonemta')).stop();
  sink.close();
  rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  console.log(`zonemta-tinomail benchmark (${quick ? 'quick' : 'full'}; node ${process.version})`);
  await ingestBench();
  await hookBench();
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
