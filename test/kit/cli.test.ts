import { Gauge } from 'prom-client';
import { allFlags, main } from '../../exporters/cli';
import type { ExporterDefinition } from '../../exporters/kit/exporter';
import { FlagError } from '../../exporters/kit/flags';
import type { RunningExporter } from '../../exporters/kit/run';
import { definition as wildduck } from '../../exporters/wildduck';

function demo(name: string): ExporterDefinition {
  return {
    name,
    description: `The ${name} demo exporter.`,
    defaultPort: 0,
    flags: [{ name: `${name}.colour`, type: 'enum', choices: ['red', 'blue'], default: 'red', help: 'A colour.' }],
    create(ctx) {
      new Gauge({ name: `${name}_colour_info`, help: 'Colour.', labelNames: ['colour'], registers: [ctx.registry] }).set({ colour: String(ctx.flags[`${name}.colour`]) }, 1);
      return {};
    },
  };
}
const defs = [demo('alpha'), demo('beta')];
const quiet = { 'TINOMAIL_LOG_LEVEL': 'error' };

describe('command line', () => {
  let running: RunningExporter[] = [];
  let out = '';
  beforeEach(() => {
    out = '';
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(running.map((r) => r.stop()));
    running = [];
  });

  test('--help lists the exporters; <exporter> --help lists every flag with default and env var', async () => {
    expect(await main(['--help'], {}, defs)).toEqual([]);
    expect(out).toContain('alpha');
    expect(out).toContain('beta');
    out = '';
    await main(['alpha', '--help'], {}, defs);
    for (const flag of ['--web.listen-address', '--web.config.file', '--log.level', '--log.format', '--alpha.colour']) expect(out).toContain(flag);
    expect(out).toContain('TINOMAIL_ALPHA_COLOUR');
    expect(out).toContain('default: "red"');
  });

  test.each([
    [['gamma'], /unknown exporter "gamma"/],
    [['alpha', '--alpha.colour=green'], /--alpha.colour: must be one of red, blue/],
    [['alpha', '--beta.colour=red'], /unknown flag --beta.colour/],
    [['alpha', 'stray'], /unexpected argument "stray"/],
    [['all', '--exporters=alpha,gamma'], /unknown exporter gamma/],
  ])('%j fails with a FlagError naming the problem', async (argv, message) => {
    const err = await main(argv, quiet, defs).catch((e) => e);
    expect(err).toBeInstanceOf(FlagError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(message);
  });

  test('one exporter runs with its flags', async () => {
    running = await main(['beta', '--web.listen-address=127.0.0.1:0', '--beta.colour=blue'], quiet, defs);
    expect(running).toHaveLength(1);
    expect(await (await fetch(`${running[0].url}/metrics`)).text()).toMatch(/^beta_colour_info\{colour="blue"\} 1$/m);
  });

  test('all runs every exporter, each on its own address and with its own flags', async () => {
    running = await main(['all', '--alpha.web.listen-address=127.0.0.1:0', '--beta.web.listen-address=127.0.0.1:0', '--alpha.colour=blue'], quiet, defs);
    expect(running.map((r) => r.definition.name)).toEqual(['alpha', 'beta']);
    expect(running[0].port).not.toBe(running[1].port);
    expect(await (await fetch(`${running[0].url}/metrics`)).text()).toMatch(/^alpha_up 1$/m);
    expect(await (await fetch(`${running[1].url}/metrics`)).text()).toMatch(/^beta_colour_info\{colour="red"\} 1$/m);
    expect(allFlags(defs).map((f) => f.name)).toEqual(
      expect.arrayContaining(['exporters', 'alpha.web.listen-address', 'beta.web.listen-address', 'alpha.colour', 'beta.colour', 'log.level']),
    );
  });

  test.each(['alpha', 'beta', 'all'])('%s --version prints the version, starts nothing', async (command) => {
    expect(await main([command, '--version', '--web.listen-address=127.0.0.1:0'], quiet, defs)).toEqual([]);
    expect(out).toMatch(/^tinomail-monitor \d+\.\d+\.\d+\n$/);
  });

  test('no subcommand is a FlagError (exit 2), not the usage with exit 0', async () => {
    const err = await main([], quiet, defs).catch((e) => e);
    expect(err).toBeInstanceOf(FlagError);
    expect(err.message).toMatch(/no exporter given \(one of: alpha, beta, all\)/);
  });

  test('a wildduck token file that cannot be read is a FlagError naming the flag', async () => {
    const err = await main(['wildduck', '--web.listen-address=127.0.0.1:0', '--wildduck.token-file=/nonexistent/token'], quiet, [wildduck]).catch((e) => e);
    expect(err).toBeInstanceOf(FlagError);
    expect(err.message).toBe('cannot read --wildduck.token-file /nonexistent/token: ENOENT');
  });

  test('all refuses TINOMAIL_WEB_LISTEN_ADDRESS, naming the per-exporter variables instead', async () => {
    const err = await main(['all'], { ...quiet, TINOMAIL_WEB_LISTEN_ADDRESS: '127.0.0.1:0' }, defs).catch((e) => e);
    expect(err).toBeInstanceOf(FlagError);
    expect(err.message).toMatch(/TINOMAIL_WEB_LISTEN_ADDRESS is not used by "all".*TINOMAIL_ALPHA_WEB_LISTEN_ADDRESS, TINOMAIL_BETA_WEB_LISTEN_ADDRESS/);
  });

  test('all honours the per-exporter TINOMAIL_<EXPORTER>_WEB_LISTEN_ADDRESS', async () => {
    running = await main(['all'], { ...quiet, TINOMAIL_ALPHA_WEB_LISTEN_ADDRESS: '127.0.0.1:0', TINOMAIL_BETA_WEB_LISTEN_ADDRESS: '127.0.0.1:0' }, defs);
    expect(running.map((r) => r.url)).toEqual([expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/)]);
    expect(running[0].port).toBeGreaterThan(0);
  });

  test('all with --exporters runs only those named', async () => {
    running = await main(['all', '--exporters=beta', '--beta.web.listen-address=127.0.0.1:0'], quiet, defs);
    expect(running.map((r) => r.definition.name)).toEqual(['beta']);
  });
});
