/**
 * The systemd units in systemd/: `systemd-analyze verify` (Debian package systemd) finds no error or warning in
 * each exporter's instance with its drop-ins, `systemd-analyze security --offline` rates each as exposure "OK",
 * and the hardening keys are where docs/systemd.md says.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exporters } from '../../exporters';

const UNITS = join(__dirname, '../../systemd');
const TEMPLATE = 'tinomail-monitor@.service';
const instances = exporters.map((e) => `tinomail-monitor@${e.name}.service`);

/** The units copied to a directory of their own, with ExecStart's node where it is on this machine. */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'units-'));
  cpSync(UNITS, dir, { recursive: true });
  const template = join(dir, TEMPLATE);
  writeFileSync(template, readFileSync(template, 'utf8').replace('/usr/bin/node ', `${process.execPath} `));
  for (const unit of instances) symlinkSync(TEMPLATE, join(dir, unit));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function analyze(args: string[]) {
  // SYSTEMD_UNIT_PATH (ending in ':' keeps the usual paths): the drop-in directories beside the template are read too.
  return spawnSync('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } });
}

/** Every setting of a unit with its drop-ins, as `Key=value` lines in the order systemd reads them. */
function settings(exporter: string): string[] {
  const files = [join(UNITS, TEMPLATE)];
  const dropIn = join(UNITS, `tinomail-monitor@${exporter}.service.d`);
  try {
    for (const f of readdirSync(dropIn).sort()) files.push(join(dropIn, f));
  } catch {
    // no drop-in for this exporter
  }
  return files.flatMap((f) => readFileSync(f, 'utf8').split('\n')).filter((l) => /^[A-Za-z]+=/.test(l));
}

/** The last value of a key (a later drop-in wins), or undefined. */
const last = (lines: string[], key: string) => lines.filter((l) => l.startsWith(`${key}=`)).pop()?.slice(key.length + 1);

test.each(instances)('systemd-analyze verify %s: no error, no warning', (unit) => {
  const r = analyze(['verify', '--man=no', join(dir, unit)]);
  expect(r.error).toBeUndefined();
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

test.each(instances)('systemd-analyze security %s: exposure OK (below 3)', (unit) => {
  const r = analyze(['security', '--offline=yes', '--no-pager', join(dir, unit)]);
  const m = /Overall exposure level for \S+: (\d+\.\d+) (\w+)/.exec(r.stdout);
  expect(m).not.toBeNull();
  expect(Number(m![1])).toBeLessThan(3);
  expect(m![2]).toBe('OK');
});

test.each(exporters.map((e) => e.name))('%s runs with no privilege and a read-only system', (name) => {
  const s = settings(name);
  for (const [key, value] of [
    ['DynamicUser', 'yes'],
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['CapabilityBoundingSet', ''],
    ['AmbientCapabilities', ''],
    ['RestrictSUIDSGID', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['SystemCallFilter', '~@privileged'],
    ['RestartPreventExitStatus', '2'],
  ]) expect([key, last(s, key)]).toEqual([key, value]);
  expect(last(s, 'ExecStart')).toBe(`/usr/bin/node /opt/tinomail-monitor/dist/cli.js %i`);
  expect(last(s, 'RestrictAddressFamilies')).toMatch(/^AF_INET AF_INET6 AF_UNIX( AF_NETLINK)?$/);
  if (name === 'system') {
    // It reads /proc/<pid> of the mail daemons and the host's mounts: what the drop-in relaxes, and only that.
    expect([last(s, 'ProtectProc'), last(s, 'ProtectHome'), last(s, 'PrivateTmp')]).toEqual(['default', 'read-only', 'no']);
  } else {
    expect([last(s, 'ProtectProc'), last(s, 'ProtectHome'), last(s, 'PrivateTmp'), last(s, 'PrivateDevices')]).toEqual(['invisible', 'yes', 'yes', 'yes']);
  }
  if (name === 'wildduck') {
    expect(last(s, 'LoadCredential')).toBe('wildduck-token:/etc/tinomail-monitor/wildduck-token');
    expect(last(s, 'Environment')).toBe('TINOMAIL_WILDDUCK_TOKEN_FILE=%d/wildduck-token');
  }
});
