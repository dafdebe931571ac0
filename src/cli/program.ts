// The command tree and its global options, and running it to an exit code.
//
// `run` never calls process.exit: it returns the code, so main.ts can let
// output drain and tests can run the CLI in-process.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_SOCKET } from '../api/client.js';
import { floatingIpCommands } from './commands/floatingip.js';
import { networkCommands } from './commands/network.js';
import { portCommands } from './commands/port.js';
import { routerCommands } from './commands/router.js';
import { statsCommands } from './commands/stats.js';
import { statusCommand } from './commands/status.js';
import { subnetCommands } from './commands/subnet.js';
import { syncCommand } from './commands/sync.js';
import { watchCommand } from './commands/watch.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, UsageError } from './errors.js';
import { FORMATS } from './output.js';
import { collectStrings, parseSeconds } from './parse-specs.js';
import type { Io } from './session.js';

/** src/cli and dist/cli are both two levels below the repository root. */
function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(io: Io): Command {
  const program = new Command('xdpnet');
  // Settings first: subcommands copy them when created.
  program
    .description('Operate xdpnetd, the XDP/eBPF dataplane of this node, in the style of `openstack network ...`')
    .version(version(), '--version', 'print the CLI version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .option('--socket <path>', `the daemon's unix socket (default: $XDPNET_SOCKET, else ${DEFAULT_SOCKET})`)
    .option('--address <host:port>', "the daemon's TCP API instead of the socket (mutual TLS: needs the three --tls-* files)")
    .option('--tls-ca <file>', 'CA certificate the daemon\'s certificate must chain to')
    .option('--tls-cert <file>', 'client certificate')
    .option('--tls-key <file>', 'client private key')
    .option('--timeout <seconds>', 'deadline of each call', parseSeconds(86400), 10)
    .addOption(new Option('-o, --output <format>', 'output format; json prints the API objects (camelCase)').choices(FORMATS).default('table'))
    .option('-c, --column <name>', 'show only this column (repeatable; a field name such as mac_address)', collectStrings)
    .addHelpText(
      'after',
      `
Exit status: 0 success, 1 refused by the daemon or daemon unreachable, 2 bad command line.`,
    );

  networkCommands(io, program);
  subnetCommands(io, program);
  portCommands(io, program);
  routerCommands(io, program);
  floatingIpCommands(io, program);
  statusCommand(io, program);
  statsCommands(io, program);
  syncCommand(io, program);
  watchCommand(io, program);
  return program;
}

/** Runs argv (without node and script) and returns the exit code; errors are printed to io.stderr. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Already printed by commander. --help and --version exit 0; everything else is a usage error.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n(add --help for usage)\n`);
      return EXIT_USAGE;
    }
    if (err instanceof CliError) {
      io.stderr.write(`xdpnet: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    // A bug: say so with the stack rather than a bare message, to make it reportable.
    io.stderr.write(`xdpnet: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT_FAILURE;
  }
}
