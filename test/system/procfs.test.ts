/** /proc parsers on literal file contents, in the exact layout Linux writes them. */
import { parseCmdline, parseListeningPorts, parsePidStat, parseProcStat } from '../../exporters/system/procfs';

describe('parseCmdline', () => {
  test('argv separated by NULs', () => {
    expect(parseCmdline(Buffer.from('/usr/bin/node\0/usr/local/bin/haraka\0-c\0/etc/haraka\0'))).toBe('/usr/bin/node /usr/local/bin/haraka -c /etc/haraka');
  });
  test('a process.title written over argv, padded with NULs', () => {
    expect(parseCmdline(Buffer.from('wildduck worker\0\0\0\0\0\0\0\0\0\0'))).toBe('wildduck worker');
  });
  test('a kernel thread has none', () => {
    expect(parseCmdline(Buffer.alloc(0))).toBe('');
  });
});

describe('parsePidStat', () => {
  test('cpu ticks (utime + stime), start ticks and rss pages', () => {
    const text = '4242 (node) S 1 4242 4242 0 -1 4194560 51812 0 0 0 1234 567 0 0 20 0 11 0 98765 1203154944 23456 18446744073709551615 1 1 0 0 0 0 0 16781312 134235650 0 0 0 17 1 0 0 0 0 0';
    expect(parsePidStat(text)).toEqual({ cpuTicks: 1801, startTicks: 98765, rssPages: 23456 });
  });
  test('a command name with spaces and parentheses does not shift the fields', () => {
    const text = '77 (rspamd: (normal) process) S 1 77 77 0 -1 4194560 1 0 0 0 10 20 0 0 20 0 1 0 500 1000 300 18446744073709551615';
    expect(parsePidStat(text)).toEqual({ cpuTicks: 30, startTicks: 500, rssPages: 300 });
  });
  test('a truncated line is rejected', () => {
    expect(parsePidStat('77 (x) S 1 2 3')).toBeUndefined();
    expect(parsePidStat('garbage')).toBeUndefined();
  });
});

describe('parseProcStat', () => {
  test('aggregate cpu line and boot time; per-cpu lines ignored', () => {
    const text = 'cpu  76684 0 12053 142064 722 0 728 29 0 0\ncpu0 36554 0 5761 73414 64 0 320 11 0 0\nintr 1 2 3\nbtime 1795439932\nprocesses 28053\n';
    expect(parseProcStat(text)).toEqual({
      cpuTicks: { user: 76684, nice: 0, system: 12053, idle: 142064, iowait: 722, irq: 0, softirq: 728, steal: 29 },
      bootTime: 1795439932,
    });
  });
});

describe('parseListeningPorts', () => {
  test('only sockets in LISTEN (0A), ports in hex, IPv4 and IPv6 layouts', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1061 1 000000003faad374 100 0 0 10 0',
      '   1: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   110        0 2211 1 0000000000000000 100 0 0 10 0',
      '   2: 0100007F:B471 0100007F:0019 01 00000000:00000000 03:00000F4B 00000000     0        0 0 3 00000000b4c44de2',
    ].join('\n');
    const tcp6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000000000000000000000000000:03E1 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3311 1 0000000000000000 100 0 0 10 0',
      '   1: 00000000000000000000000001000000:B472 00000000000000000000000001000000:03E1 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000',
    ].join('\n');
    expect([...parseListeningPorts(tcp)].sort((a, b) => a - b)).toEqual([25, 6379]);
    expect([...parseListeningPorts(tcp6)]).toEqual([993]);
  });
});
