// xdpnetd entry point: `xdpnetd --config /etc/xdpnet/xdpnetd.yaml`.
//
// Exit codes: 0 after a clean SIGTERM/SIGINT shutdown, 2 for a bad command
// line or configuration, 1 when start-up fails otherwise.

import { Command } from 'commander';
import { pino } from 'pino';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from './config.js';
import { Daemon } from './daemon.js';
import { VERSION } from './api-context.js';

const program = new Command('xdpnetd')
  .description('xdpnet dataplane daemon: programs XDP/eBPF from desired state received over gRPC')
  .version(VERSION)
  .option('-c, --config <file>', 'configuration file (YAML or JSON)', DEFAULT_CONFIG_PATH)
  .option('--check-config', 'validate the configuration and exit')
  .parse();

const options = program.opts<{ config: string; checkConfig?: boolean }>();

let config;
try {
  config = loadConfig(options.config);
} catch (err) {
  process.stderr.write(`xdpnetd: ${err instanceof ConfigError ? err.message : String(err)}\n`);
  process.exit(2);
}
if (options.checkConfig) {
  process.stdout.write(`${options.config}: valid\n`);
  process.exit(0);
}

// JSON lines on stdout (journald keeps them); pino's default fields plus ours.
const logger = pino({ level: config.log.level, base: { node: config.node_name } });

let daemon: Daemon;
try {
  daemon = await Daemon.start(config, logger);
} catch (err) {
  logger.fatal({ err }, 'start-up failed');
  process.exit(1);
}

let stopping = false;
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  daemon.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'unclean shutdown');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
