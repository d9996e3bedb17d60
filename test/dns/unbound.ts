/**
 * A real unbound (Debian's `unbound`) serving test zones from its config on a random loopback port.
 * Everything that is not a test zone is REFUSED (`local-zone: "." refuse`), so nothing leaves the machine.
 * Zone types give the failures: `deny` drops queries (timeouts), `refuse` answers REFUSED, and a stub zone
 * that points back at this same unbound makes it answer SERVFAIL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as dns } from 'node:dns';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../redis/helpers';

export interface Zones {
  /** `local-zone:` lines: [name, type] (static, refuse, deny, transparent). */
  zones: Array<[string, string]>;
  /** `local-data:` records, e.g. 'a.test. 300 A 127.0.0.1'. */
  records: string[];
  /** `local-data-ptr:` entries, e.g. '192.0.2.10 mail.good.test'. */
  ptrs?: string[];
  /** Zones that answer SERVFAIL. */
  servfail?: string[];
}

export class Unbound {
  private proc: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(z: Zones): Promise<Unbound> {
    const dir = mkdtempSync(join(tmpdir(), 'tinomail-unbound-'));
    const server = new Unbound(await freePort(), dir);
    const quote = (s: string) => `"${s.replace(/"/g, '\\"')}"`;
    const lines = [
      'server:',
      '  interface: 127.0.0.1',
      `  port: ${server.port}`,
      '  do-daemonize: no',
      '  chroot: ""',
      '  username: ""',
      `  directory: ${quote(dir)}`,
      '  pidfile: ""',
      '  use-syslog: no',
      '  logfile: ""',
      '  verbosity: 0',
      '  module-config: "iterator"',
      '  do-not-query-localhost: no',
      '  num-threads: 1',
      '  so-reuseport: no',
      '  access-control: 127.0.0.0/8 allow',
      '  local-zone: "." refuse',
      ...z.zones.map(([name, type]) => `  local-zone: ${quote(name)} ${type}`),
      ...(z.servfail ?? []).map((name) => `  local-zone: ${quote(name)} transparent`),
      // single quotes around the record: TXT data keeps its double quotes.
      ...z.records.map((r) => `  local-data: '${r}'`),
      ...(z.ptrs ?? []).map((p) => `  local-data-ptr: ${quote(p)}`),
      ...(z.servfail ?? []).flatMap((name) => ['stub-zone:', `  name: ${quote(name)}`, `  stub-addr: 127.0.0.1@${server.port}`]),
    ];
    writeFileSync(join(dir, 'unbound.conf'), lines.join('\n') + '\n');
    try {
      await server.run();
    } catch (err) {
      await server.stop(); // never leave an unbound behind, even when it did not get ready
      throw err;
    }
    return server;
  }

  private async run(): Promise<void> {
    const proc = spawn('unbound', ['-d', '-c', join(this.dir, 'unbound.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    let output = '';
    proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`unbound exited with ${code}: ${output.slice(-800)}`))));
    exited.catch(() => undefined);
    // Ready when it answers (any DNS answer; a timeout or a closed port is not one).
    const r = new dns.Resolver({ timeout: 200, tries: 1 });
    r.setServers([this.address]);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const answered = await Promise.race([
        r.resolve4('ready.example').then(
          () => true,
          (err: NodeJS.ErrnoException) => err.code !== 'ETIMEOUT' && err.code !== 'ECONNREFUSED',
        ),
        exited,
      ]);
      if (answered) return;
      if (Date.now() > deadline) throw new Error(`unbound did not answer: ${output.slice(-800)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (proc && proc.exitCode === null) {
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A TXT record's data as unbound wants it: quoted strings of at most 255 bytes. */
export function txtData(text: string): string {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += 255) parts.push(`"${text.slice(i, i + 255)}"`);
  return parts.join(' ');
}
