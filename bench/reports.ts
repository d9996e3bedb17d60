/**
 * Reports exporter benchmark: `npm run bench reports` (about a minute).
 *
 * Each case runs in a process of its own (so peak RSS figures do not mix) and parses DMARC aggregate reports
 * through decodeReport(), as the exporter does for an attachment or a file:
 * - baseline: a small Google-shaped report (3 records, 2 KB) parsed over and over: reports per second, peak RSS;
 * - a 50 MB aggregate report (about 200,000 records), plain XML, generated as it is read (so the bench holds none
 *   of it), then the same gzip-compressed and zip-compressed (the compressed file is held in memory, as an
 *   attachment's bytes would stream in): MB per second and peak RSS.
 * Target (issue 16): memory bounded by streaming, not by the report's size: the 50 MB report's peak RSS close to the
 * small report's, far below 50 MB more.
 */
import { spawnSync } from 'node:child_process';
import { createGzip } from 'node:zlib';
import { Zip, ZipDeflate } from 'fflate';
import { decodeReport } from '../exporters/reports/decode';
import type { DmarcReport } from '../exporters/reports/dmarc';
import { ownNetworks } from '../exporters/reports/networks';
import { googleDmarc } from '../test/reports/fixtures';

const MB = 1024 * 1024;
const BIG_MB = 50;
const SMALL_SECONDS = 3;
const opts = { maxReportBytes: 200 * MB, maxJsonBytes: 16 * MB, classify: ownNetworks(['192.0.2.0/24', '2001:db8::/32']) };

interface Result {
  case: string;
  reports: number;
  bytes: number;
  seconds: number;
  /** RSS when parsing began, and the most it reached while parsing. */
  startRssMb: number;
  peakRssMb: number;
  records: number;
}

let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
};

/**
 * The records of a big report, each chunk of 256 records with other IPs and results; 64 distinct chunks are built
 * once and cycled, so generating the input costs next to nothing in the timing.
 */
function bigReportChunks(mb: number): { chunks: () => AsyncGenerator<Buffer>; size: number } {
  const [head, tail] = googleDmarc({ records: [] }).split('</feedback>');
  const record = (i: number) =>
    `<record><row><source_ip>${i % 3 ? `192.0.2.${i % 250}` : `2001:db8::${(i % 65535).toString(16)}`}</source_ip><count>${1 + (i % 7)}</count><policy_evaluated><disposition>none</disposition><dkim>${i % 11 ? 'pass' : 'fail'}</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers><auth_results><dkim><domain>example.com</domain><result>pass</result><selector>s${i % 5}</selector></dkim><spf><domain>example.com</domain><result>pass</result></spf></auth_results></record>\n`;
  const perChunk = 256;
  const distinct = Array.from({ length: 64 }, (_, n) => Buffer.from(Array.from({ length: perChunk }, (_, k) => record(n * perChunk + k)).join('')));
  const avg = distinct.reduce((a, b) => a + b.length, 0) / distinct.length;
  const n = Math.ceil((mb * MB) / avg);
  let size = head.length + tail.length + 11;
  for (let i = 0; i < n; i++) size += distinct[i % 64].length;
  return {
    size,
    async *chunks() {
      yield Buffer.from(head);
      for (let i = 0; i < n; i++) {
        if (i % 8 === 0) sampleRss();
        yield distinct[i % 64];
      }
      yield Buffer.from('</feedback>' + tail);
    },
  };
}

/** The report compressed chunk by chunk, so only the compressed bytes are ever held. */
async function compress(kind: 'gzip' | 'zip', input: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  if (kind === 'gzip') {
    const gz = createGzip();
    gz.on('data', (c: Buffer) => out.push(c));
    for await (const c of input) if (!gz.write(c)) await new Promise((r) => gz.once('drain', r));
    const ended = new Promise((r) => gz.once('end', r));
    gz.end();
    await ended;
    return Buffer.concat(out);
  }
  const zip = new Zip((err, chunk) => {
    if (err) throw err;
    out.push(Buffer.from(chunk));
  });
  const file = new ZipDeflate('google.com!example.com!1706659200!1706745599.xml', { level: 6 });
  zip.add(file);
  for await (const c of input) file.push(c);
  file.push(new Uint8Array(0), true);
  zip.end();
  return Buffer.concat(out);
}

async function* slices(data: Buffer, size = 64 * 1024): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) {
    if ((i / size) % 16 === 0) sampleRss();
    yield data.subarray(i, i + size);
  }
}

/** One case, inside the child process. */
async function runCase(name: string): Promise<Result> {
  const timer = setInterval(sampleRss, 5);
  try {
    if (name === 'small') {
      const xml = Buffer.from(googleDmarc({ records: [{ ip: '192.0.2.1', count: 3 }, { ip: '2001:db8::1', count: 1 }, { ip: '203.0.113.9', count: 2, dkim: 'fail', spf: 'fail' }] }));
      let n = 0;
      let records = 0;
      global.gc?.();
      const startRssMb = process.memoryUsage.rss() / MB;
      peakRss = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < SMALL_SECONDS * 1000) {
        records += ((await decodeReport(slices(xml), opts)) as DmarcReport).records;
        n++;
      }
      return { case: 'small report (2 KB)', reports: n, bytes: n * xml.length, seconds: (performance.now() - t0) / 1000, startRssMb, peakRssMb: peakRss / MB, records };
    }
    const big = bigReportChunks(BIG_MB);
    let input: () => AsyncIterable<Buffer> = big.chunks;
    let label = `${BIG_MB} MB report, plain XML`;
    if (name === 'gzip' || name === 'zip') {
      const packed = await compress(name, big.chunks());
      label = `${BIG_MB} MB report, ${name} (${(packed.length / MB).toFixed(1)} MB held)`;
      input = () => slices(packed);
    }
    global.gc?.();
    const startRssMb = process.memoryUsage.rss() / MB;
    peakRss = 0;
    const t0 = performance.now();
    const r = (await decodeReport(input(), opts)) as DmarcReport;
    return { case: label, reports: 1, bytes: big.size, seconds: (performance.now() - t0) / 1000, startRssMb, peakRssMb: peakRss / MB, records: r.records };
  } finally {
    clearInterval(timer);
  }
}

function child(name: string): Result {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, 'child', name], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`case ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'child') {
    process.stdout.write(`${JSON.stringify(await runCase(process.argv[3]))}\n`);
    return;
  }
  const base = child('small');
  console.log('DMARC aggregate reports through decodeReport() (streaming sax parser), one process per case');
  const line = (r: Result) =>
    `${r.case.padEnd(40)} ${(r.reports / r.seconds).toFixed(1).padStart(8)} reports/s ${(r.bytes / MB / r.seconds).toFixed(1).padStart(6)} MB/s ${String(r.records).padStart(8)} records  RSS ${r.startRssMb.toFixed(1).padStart(6)} -> peak ${r.peakRssMb.toFixed(1).padStart(6)} MB (+${(r.peakRssMb - r.startRssMb).toFixed(1)})`;
  console.log(line(base), ' (baseline)');
  for (const name of ['plain', 'gzip', 'zip']) {
    const r = child(name);
    console.log(line(r));
    const growth = (x: Result) => Math.max(x.peakRssMb - x.startRssMb, 0.1);
    console.log(
      `${' '.repeat(40)} vs baseline: peak RSS x${(r.peakRssMb / base.peakRssMb).toFixed(2)}, RSS growth while parsing ${growth(r).toFixed(1)} MB vs ${growth(base).toFixed(1)} MB for a ${BIG_MB} MB report, throughput x${(r.bytes / r.seconds / (base.bytes / base.seconds)).toFixed(2)} in bytes/s`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
