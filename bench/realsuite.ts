/**
 * Real suite benchmark (npm run bench realsuite [messages-per-round] [rounds]): messages per second through
 * ZoneMTA -> Haraka -> WildDuck, from submission to ZoneMTA's feeder until WildDuck's own LMTP counter has them all,
 * on two suites of the same config started side by side: one with zonemta-tinomail (and log.remote) and
 * haraka-plugin-tinomail, one without. Rounds alternate between them in the same run; the overhead is the drop of
 * the median rate with the plugins (target: at most 2%). Needs the realsuite package (npm run realsuite:install).
 */
import nodemailer from 'nodemailer';
import { type RealSuite, startRealSuite, suiteInstalled } from '../test/realsuite/harness';

const MESSAGES = Number(process.argv[2] ?? 40);
const ROUNDS = Number(process.argv[3] ?? 6);
const CONNECTIONS = 4;

async function stored(suite: RealSuite): Promise<number> {
  const text = await (await fetch(suite.wildduck.metrics)).text();
  const m = /^wildduck_lmtp_messages_total\{result="success"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Submits `MESSAGES` messages over `CONNECTIONS` connections; resolves with messages per second end to end. */
async function round(suite: RealSuite, to: string, n: number): Promise<number> {
  const before = await stored(suite);
  const started = performance.now();
  const transport = nodemailer.createTransport({ host: suite.zonemta.feeder.host, port: suite.zonemta.feeder.port, secure: false, ignoreTLS: true, pool: true, maxConnections: CONNECTIONS });
  try {
    await Promise.all(Array.from({ length: n }, (_, i) => transport.sendMail({ from: 'bench@sender.realsuite.test', to, subject: `bench ${i}`, text: 'lorem ipsum dolor sit amet\n'.repeat(80) })));
  } finally {
    transport.close();
  }
  const deadline = Date.now() + 180_000;
  while ((await stored(suite)) < before + n) {
    if (Date.now() > deadline) throw new Error(`only ${(await stored(suite)) - before} of ${n} messages stored within 180 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return n / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const missing = suiteInstalled();
  if (missing) {
    console.error(missing);
    process.exit(1);
  }
  const services: ['zonemta'] = ['zonemta'];
  const [withPlugins, without] = await Promise.all([startRealSuite({ services }), startRealSuite({ services, plugins: false })]);
  try {
    const targets: [string, RealSuite, string][] = [];
    for (const [name, suite] of [['with plugins', withPlugins], ['without plugins', without]] as const) {
      const user = await suite.wildduck.createUser('bench', 'bench-password-1');
      targets.push([name, suite, user.address]);
      await round(suite, user.address, 5); // warm-up: connections, JIT, first mailbox
    }
    const rates: Record<string, number[]> = { 'with plugins': [], 'without plugins': [] };
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which suite goes first, so a trend in the machine's load falls on both.
      for (const [name, suite, to] of r % 2 ? [...targets].reverse() : targets) {
        const rate = await round(suite, to, MESSAGES);
        rates[name].push(rate);
        console.log(`round ${r + 1} ${name.padEnd(16)} ${rate.toFixed(1)} messages/s`);
      }
    }
    const a = median(rates['with plugins']);
    const b = median(rates['without plugins']);
    console.log(`\n${MESSAGES} messages per round, ${ROUNDS} rounds each, ${CONNECTIONS} SMTP connections to ZoneMTA's feeder`);
    console.log(`median with plugins:    ${a.toFixed(1)} messages/s`);
    console.log(`median without plugins: ${b.toFixed(1)} messages/s`);
    console.log(`ratio with/without: ${(a / b).toFixed(3)}  overhead: ${((1 - a / b) * 100).toFixed(1)}% (target <= 2%)`);
  } finally {
    await Promise.all([withPlugins.close(), without.close()]);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  },
);
