/**
 * The default service patterns against the command lines the mail daemons really show: WildDuck and
 * ZoneMTA set process.title (`wildduck worker`, `zone-mta: sender/<zone>`), Rspamd sets `rspamd: <x> process`,
 * Haraka keeps its node argv; and against look-alikes that must not count (editors, tail, grep).
 */
import { FlagError } from '../../exporters/kit/flags';
import { DEFAULT_SERVICES, parsePorts, parseServiceSpecs, usageByService } from '../../exporters/system/services';

const specs = parseServiceSpecs(DEFAULT_SERVICES.split(','));
const serviceOf = (cmdline: string) => specs.find((s) => s.pattern.test(cmdline))?.name;

describe('default service patterns', () => {
  test.each([
    ['wildduck master', 'wildduck'],
    ['wildduck worker', 'wildduck'],
    ['wildduck', 'wildduck'],
    ['/usr/bin/node /usr/local/bin/haraka -c /etc/haraka', 'haraka'],
    ['node /opt/haraka/node_modules/.bin/haraka -c /opt/haraka', 'haraka'],
    ['node haraka.js', 'haraka'],
    ['zone-mta: master process', 'zone-mta'],
    ['zone-mta: sender/default', 'zone-mta'],
    ['zone-mta: receiver/feeder', 'zone-mta'],
    ['rspamd: main process', 'rspamd'],
    ['rspamd: rspamd_proxy process (localhost:11332)', 'rspamd'],
    ['/usr/bin/rspamd -c /etc/rspamd/rspamd.conf', 'rspamd'],
    ['/usr/bin/mongod --config /etc/mongod.conf', 'mongod'],
    ['mongod --replSet rs0', 'mongod'],
    ['/usr/bin/redis-server 127.0.0.1:6379', 'redis-server'],
    ['redis-server *:6379', 'redis-server'],
  ])('%s -> %s', (cmdline, service) => {
    expect(serviceOf(cmdline)).toBe(service);
  });

  test.each([
    'tail -f /var/log/wildduck/wildduck.log',
    'vim /etc/haraka/config/plugins',
    'grep zone-mta /var/log/syslog',
    'less /var/log/mongodb/mongod.log',
    'redis-cli -n 3 monitor',
    '/usr/bin/node /opt/tinomail-monitor/dist/cli.js system',
    'mongodump --db wildduck',
    'rspamc stat',
  ])('%s matches nothing', (cmdline) => {
    expect(serviceOf(cmdline)).toBeUndefined();
  });
});

describe('parseServiceSpecs', () => {
  test('custom entries; the first match wins', () => {
    const custom = parseServiceSpecs(['imap=^wildduck', 'other=.']);
    expect(usageByService(custom, [
      { pid: 1, cmdline: 'wildduck worker', stat: { cpuTicks: 100, startTicks: 50, rssPages: 10 } },
      { pid: 2, cmdline: 'wildduck worker', stat: { cpuTicks: 20, startTicks: 40, rssPages: 5 } },
      { pid: 3, cmdline: 'anything', stat: { cpuTicks: 1, startTicks: 70, rssPages: 1 } },
    ])).toEqual(new Map([
      ['imap', { processes: 2, cpuTicks: 120, rssPages: 15, oldestStartTicks: 40 }],
      ['other', { processes: 1, cpuTicks: 1, rssPages: 1, oldestStartTicks: 70 }],
    ]));
  });

  test.each([
    [['no-equals-sign'], /name=pattern/],
    [['bad name=x'], /name=pattern/],
    [['ok=('], /pattern of ok/],
    [['a=x', 'a=y'], /twice/],
  ])('%j is refused', (entries, message) => {
    expect(() => parseServiceSpecs(entries)).toThrow(FlagError);
    expect(() => parseServiceSpecs(entries)).toThrow(message);
  });
});

describe('parsePorts', () => {
  test('ports, deduplicated; anything else refused', () => {
    expect(parsePorts(['25', '993', '25'])).toEqual([25, 993]);
    expect(() => parsePorts(['25', 'smtp'])).toThrow(/"smtp" is not a port/);
    expect(() => parsePorts(['70000'])).toThrow(FlagError);
  });
});
