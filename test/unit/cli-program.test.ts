// The command line, run in-process against no daemon: usage errors exit 2
// before anything is called; an unreachable socket exits 1 and says where.

import { describe, expect, it } from 'vitest';
import { buildProgram, run } from '../../src/cli/program.js';
import type { Io } from '../../src/cli/session.js';

const NOWHERE = '/nonexistent/xdpnet-cli-test.sock';

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    onInterrupt: () => () => {},
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

describe('the command tree', () => {
  it('has the operator commands, each with --help', () => {
    const program = buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {}, onInterrupt: () => () => {} });
    const tree = Object.fromEntries(program.commands.map((c) => [c.name(), c.commands.map((s) => s.name())]));
    expect(tree).toEqual({
      network: ['create', 'list', 'show', 'delete', 'set'],
      subnet: ['create', 'list', 'show', 'delete', 'set'],
      port: ['create', 'list', 'show', 'delete', 'set'],
      router: ['create', 'list', 'show', 'delete', 'set', 'add-interface', 'remove-interface', 'set-gateway', 'unset-gateway'],
      floatingip: ['create', 'list', 'show', 'delete', 'set', 'unset'],
      status: [],
      stats: ['ports'],
      sync: [],
      watch: [],
    });
  });

  it.each([['--help'], ['network', '--help'], ['router', 'set-gateway', '--help'], ['stats', 'ports', '--help']])('%s exits 0', async (...args) => {
    const r = await cli(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: xdpnet/);
  });

  it('help shows the global options on subcommands too', async () => {
    expect((await cli(['port', 'create', '--help'])).stdout).toContain('--socket <path>');
  });
});

describe('usage errors exit 2 with a message and nothing called', () => {
  it.each([
    [['network', 'create', '--id', 'x', '--bogus'], "unknown option '--bogus'"],
    [['network', 'lst'], "unknown command 'lst'"],
    [['network', 'create'], "required option '--id <uuid>' not specified"],
    [['network', 'create', '--id', 'x', '--type', 'geneve'], 'expected one of: vxlan, flat, vlan'],
    [['network', 'create', '--id', 'x', '--mtu', '1e3'], 'not a whole number'],
    [['network', 'set', 'x', '--external', '--internal'], "option '--external' cannot be used with option '--internal'"],
    [['network', 'set', 'x'], 'nothing to change: give at least one of --name, --mtu'],
    [['port', 'create', '--id', 'p', '--network', 'n', '--mac', 'm', '--fixed-ip', 'subnet=s'], 'missing ip-address (expected subnet=SUBNET_ID,ip-address=IP)'],
    [['port', 'create', '--id', 'p', '--network', 'n', '--mac', 'm', '--local-interface', 't', '--remote-vtep', '1.2.3.4'], 'cannot be used with'],
    [['port', 'set', 'p', '--unbind', '--local-interface', 'tap0'], 'cannot be used with'],
    [['router', 'set', 'r', '--route', 'destination=10.0.0.0/8'], 'missing gateway'],
    [['router', 'set-gateway', 'r', '--external-network', 'e', '--ip-address', 'i'], "required option '--gateway-node <vtep-ip>'"],
    [['floatingip', 'create', '--id', 'f', '--network', 'e', '--floating-ip-address', 'a', '--fixed-ip-address', 'b'], '--fixed-ip-address needs --port'],
    [['network', 'list', '-c', 'nope'], 'unknown column "nope"'],
    [['network', 'list', '-o', 'yaml'], 'Allowed choices are table, json, value'],
    [['watch', '--kind', 'volume'], 'expected one of: network, subnet, port, router, floatingip'],
    [['watch', '-c', 'id'], '-c does not apply to watch'],
    [['status', '--timeout', '0'], 'expected seconds'],
    [['status', '--address', 'h:1'], '--address needs --tls-ca, --tls-cert, --tls-key'],
    [['status', '--address', 'h:1', '--socket', '/s'], '--socket and --address are alternatives'],
    [['network', 'delete'], "missing required argument 'id'"],
  ])('%j', async (args, message) => {
    // A socket that does not exist: had anything been called, stderr would say "cannot reach".
    const target = args.includes('--address') || args.includes('--socket') ? [] : ['--socket', NOWHERE];
    const r = await cli([...args, ...target]);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('cannot reach');
    expect(r.code).toBe(2);
  });
});

describe('reaching the daemon', () => {
  it('an unreachable socket exits 1, naming the socket and what to check', async () => {
    const r = await cli(['network', 'list', '--socket', NOWHERE]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`xdpnet: cannot reach xdpnetd on socket ${NOWHERE}: ENOENT (no such socket)\n  is xdpnetd running? check: systemctl status xdpnetd\n`);
    expect(r.stdout).toBe('');
  });

  it('$XDPNET_SOCKET is used when --socket is not given, and --socket wins over it', async () => {
    expect((await cli(['status'], { XDPNET_SOCKET: '/nonexistent/env.sock' })).stderr).toContain('socket /nonexistent/env.sock');
    expect((await cli(['status', '--socket', NOWHERE], { XDPNET_SOCKET: '/nonexistent/env.sock' })).stderr).toContain(`socket ${NOWHERE}`);
  });

  it('the default socket otherwise', async () => {
    expect((await cli(['status'])).stderr).toContain('socket /run/xdpnet/xdpnetd.sock');
  });

  it('unreadable TLS files are named', async () => {
    const r = await cli(['status', '--address', '127.0.0.1:1', '--tls-ca', '/nonexistent/ca.pem', '--tls-cert', '/x', '--tls-key', '/y']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('xdpnet: cannot read --tls-ca /nonexistent/ca.pem: ENOENT\n');
  });

  it('a sync file is checked before the daemon is called', async () => {
    const r = await cli(['sync', '/nonexistent/state.yaml', '--socket', NOWHERE]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('xdpnet: cannot read /nonexistent/state.yaml: ENOENT\n');
  });
});
