import { envName, FlagError, type FlagSpec, formatHelp, parseAddress, parseDuration, parseFlags } from '../../exporters/kit/flags';

const specs: FlagSpec[] = [
  { name: 'web.listen-address', type: 'address', default: ':9742', help: 'listen' },
  { name: 'demo.interval', type: 'duration', default: '5m', help: 'crawl interval' },
  { name: 'demo.page-size', type: 'int', default: '250', help: 'page size' },
  { name: 'demo.verbose', type: 'bool', default: 'false', help: 'verbose' },
  { name: 'demo.zones', type: 'list', default: 'default,bulk', help: 'zones' },
  { name: 'log.format', type: 'enum', choices: ['logfmt', 'json'], default: 'logfmt', help: 'format' },
  { name: 'demo.token', type: 'string', default: 'hunter2', help: 'token', secret: true },
];

describe('flags', () => {
  test('defaults are converted to their types', () => {
    const { values } = parseFlags([], specs, {});
    expect(values).toEqual({
      'web.listen-address': ':9742',
      'demo.interval': 300_000,
      'demo.page-size': 250,
      'demo.verbose': false,
      'demo.zones': ['default', 'bulk'],
      'log.format': 'logfmt',
      'demo.token': 'hunter2',
    });
  });

  test('command line beats environment beats default; both flag forms work', () => {
    const env = { TINOMAIL_DEMO_PAGE_SIZE: '100', TINOMAIL_DEMO_INTERVAL: '30s', TINOMAIL_LOG_FORMAT: 'json' };
    const { values, positional } = parseFlags(['--demo.page-size=50', '--web.listen-address', '127.0.0.1:0', '--demo.verbose', 'extra'], specs, env);
    expect(values['demo.page-size']).toBe(50);
    expect(values['demo.interval']).toBe(30_000);
    expect(values['log.format']).toBe('json');
    expect(values['web.listen-address']).toBe('127.0.0.1:0');
    expect(values['demo.verbose']).toBe(true);
    expect(positional).toEqual(['extra']);
    expect(parseFlags(['--no-demo.verbose'], specs, { TINOMAIL_DEMO_VERBOSE: 'true' }).values['demo.verbose']).toBe(false);
  });

  test.each([
    [['--demo.nope=1'], /unknown flag --demo.nope/],
    [['--demo.page-size=ten'], /--demo.page-size: not an integer/],
    [['--demo.interval=5 minutes'], /--demo.interval: not a duration/],
    [['--web.listen-address=localhost'], /--web.listen-address: not an address/],
    [['--web.listen-address=:70000'], /--web.listen-address/],
    [['--log.format=xml'], /--log.format: must be one of logfmt, json/],
    [['--demo.page-size'], /--demo.page-size needs a value/],
  ])('%j is refused with a message naming the flag', (argv, message) => {
    expect(() => parseFlags(argv, specs, {})).toThrow(FlagError);
    expect(() => parseFlags(argv, specs, {})).toThrow(message);
  });

  test('a bad environment value names the variable, and secrets are not echoed', () => {
    expect(() => parseFlags([], specs, { TINOMAIL_DEMO_PAGE_SIZE: 'x' })).toThrow(/environment variable TINOMAIL_DEMO_PAGE_SIZE/);
    const secret: FlagSpec = { name: 'demo.n', type: 'int', default: '1', help: 'n', secret: true };
    expect(() => parseFlags(['--demo.n=s3cret'], [secret], {})).toThrow(/<secret>/);
    expect(() => parseFlags(['--demo.n=s3cret'], [secret], {})).not.toThrow(/s3cret/);
  });

  test('durations and addresses', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('5')).toThrow();
    expect(parseAddress(':9100')).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(parseAddress('[::1]:9100')).toEqual({ host: '::1', port: 9100 });
    expect(parseAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
  });

  test('help lists every flag with its default and environment variable, masking secrets', () => {
    const help = formatHelp(specs);
    for (const s of specs) {
      expect(help).toContain(`--${s.name}`);
      expect(help).toContain(envName(s.name));
    }
    expect(help).toContain('default: "5m"');
    expect(help).not.toContain('hunter2');
    expect(envName('gelf.listen-address')).toBe('TINOMAIL_GELF_LISTEN_ADDRESS');
  });
});
