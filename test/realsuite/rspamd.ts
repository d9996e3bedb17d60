/**
 * Rspamd of the real suite: the Debian rspamd (3.4) started on its own /etc/rspamd/rspamd.conf, with a
 * LOCAL_CONFDIR of ours (local.d / override.d, as an operator changes it) and DBDIR, RUNDIR and LOGDIR in the
 * suite's scratch dir, so nothing of a system rspamd (its config changes, its data, ports 11332-11335) is used.
 *
 * Made for a machine without internet:
 * - rspamd's only nameserver is refusingDns() below, which answers every query REFUSED at once. A port where
 *   nothing listens would cost a timeout per lookup, and the RBL checks look up the HELO name in every scan;
 * - so the remote maps (maps.rspamd.com) fail at once, and rspamd keeps the fallback copies in /etc/rspamd/maps.d;
 * - fuzzy_check (UDP to rspamd.com) and the rspamd_proxy worker are off;
 * - no Redis: the modules that need it switch themselves off (Bayes, greylisting state, ratelimit, history_redis).
 */
import dgram from 'node:dgram';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const RSPAMD = '/usr/bin/rspamd';
const CONFDIR = '/etc/rspamd';
/** The header whose value becomes the score of the TINOMAIL_TEST_SCORE symbol (rspamd.local.lua below). */
export const TEST_SCORE_HEADER = 'X-Tinomail-Score';

export interface RspamdPorts {
  /** the normal worker (haraka-plugin-rspamd's /checkv2) */
  normal: number;
  /** the controller (/ping, /stat, /history, /metrics) */
  controller: number;
  /** rspamd's nameserver (UDP): refusingDns() */
  dns: number;
}

/** When running as root: the unprivileged user the Debian package creates (rspamd refuses to run its workers as root). */
function rspamdUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('_rspamd:'));
  if (!entry) throw new Error('running as root, but there is no user _rspamd for rspamd\'s workers (apt-get install rspamd creates it)');
  const [name, , uid, gid] = entry.split(':');
  return { name: name!, uid: Number(uid), gid: Number(gid) };
}

/**
 * Hyperscan databases compiled from rspamd's regular expressions and the TLD list (about 10 s of CPU on a busy
 * machine) are kept between runs here, so a later start takes seconds. rspamd checks each cached file against its
 * own build and expressions before it uses it.
 */
function hyperscanCache(owner?: { uid: number; gid: number }): string {
  const cache = join(tmpdir(), `tinomail-rspamd-hs-cache-${process.getuid?.() ?? 'user'}`);
  mkdirSync(cache, { recursive: true });
  if (owner) chownSync(cache, owner.uid, owner.gid);
  return cache;
}

/**
 * Writes rspamd's configuration under `dir` (the suite's `<dir>/rspamd`) and returns the command line. The
 * controller lets 127.0.0.1 (the suite's Prometheus) in without its password (`secure_ip` in
 * local.d/worker-controller.inc, as README.md tells operators); other addresses need the password.
 */
export function writeRspamdConfig(dir: string, host: string, ports: RspamdPorts, password: string): { args: string[]; controller: string } {
  if (!existsSync(RSPAMD)) throw new Error(`${RSPAMD} is missing: install the test dependencies (scripts/install-test-deps.sh installs rspamd)`);
  const conf = join(dir, 'conf');
  const db = join(dir, 'db');
  const run = join(dir, 'run');
  for (const d of [join(conf, 'local.d'), join(conf, 'override.d'), db, run]) mkdirSync(d, { recursive: true });
  const user = rspamdUser();
  const files: Record<string, string> = {
    'override.d/worker-normal.inc': `bind_socket = "${host}:${ports.normal}";\ncount = 1;\n`,
    'local.d/worker-controller.inc': `bind_socket = "${host}:${ports.controller}";\ncount = 1;\npassword = "${password}";\nenable_password = "${password}";\n# the Prometheus host\nsecure_ip = "127.0.0.1";\n`,
    'override.d/worker-proxy.inc': 'enabled = false;\n',
    'override.d/logging.inc': 'type = "console";\nlevel = "info";\ncolor = false;\n',
    'override.d/options.inc': [
      `hs_cache_dir = "${hyperscanCache(user)}";`,
      `dns {\n  nameserver = ["${host}:${ports.dns}"];\n  timeout = 0.2s;\n  retransmits = 1;\n}`,
      '',
    ].join('\n'),
    'local.d/fuzzy_check.conf': 'enabled = false;\n',
    // A symbol whose score the test picks per message, so that rspamd's own thresholds (actions.conf: greylist 4,
    // add header 6, reject 15) decide the action.
    'rspamd.local.lua': `-- tinomail real suite: the score of ${TEST_SCORE_HEADER} becomes the score of TINOMAIL_TEST_SCORE
rspamd_config:register_symbol({
  name = 'TINOMAIL_TEST_SCORE',
  score = 1.0,
  description = 'Score asked for by the tinomail test suite (${TEST_SCORE_HEADER} header)',
  callback = function(task)
    local score = tonumber(task:get_header('${TEST_SCORE_HEADER}') or '')
    if score then task:insert_result('TINOMAIL_TEST_SCORE', score) end
  end,
})
`,
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(join(conf, name), content);
  if (user) {
    // The workers run as _rspamd: they write DBDIR and RUNDIR, and must get through the suite's 0700 scratch dir.
    for (const d of [dir, db, run]) chownSync(d, user.uid, user.gid);
    chmodSync(join(dir, '..'), 0o711);
  }
  const args = [
    '-f',
    '-c', join(CONFDIR, 'rspamd.conf'),
    ...(user ? ['-u', user.name, '-g', user.name] : []),
    '--var', `LOCAL_CONFDIR=${conf}`,
    '--var', `DBDIR=${db}`,
    '--var', `RUNDIR=${run}`,
    '--var', `LOGDIR=${dir}`,
  ];
  return { args, controller: `http://${host}:${ports.controller}` };
}

/**
 * A nameserver that answers every query REFUSED: the header with QR and RA set and RCODE 5, and the question.
 * rspamd then reports each lookup failed (RBL_..._FAIL symbols) without waiting.
 */
export async function refusingDns(host: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (query.length < 12) return;
    let end = 12;
    while (end < query.length && query[end] !== 0) end += query[end]! + 1; // QNAME labels
    end += 5; // the root label, QTYPE, QCLASS
    if (end > query.length) return;
    const reply = Buffer.from(query.subarray(0, end));
    reply[2] = 0x80 | (query[2]! & 0x79); // QR, the query's opcode and RD
    reply[3] = 0x80 | 5; // RA, RCODE REFUSED
    reply.writeUInt16BE(1, 4); // QDCOUNT
    reply.fill(0, 6, 12); // no answer, authority or additional records
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
  return socket;
}
