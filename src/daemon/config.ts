// xdpnetd's configuration file (YAML or JSON), validated at start.
//
// Unknown keys are errors (a typo must not silently fall back to a default),
// and every error names the key path and the problem.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIPv4 } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const DEFAULT_CONFIG_PATH = '/etc/xdpnet/xdpnetd.yaml';

const ifname = z
  .string()
  .regex(/^[^\s/:]{1,15}$/, 'must be an interface name: 1 to 15 characters, no spaces, "/" or ":"');
const ipv4 = z.string().refine((v) => isIPv4(v), 'must be an IPv4 address');
const hostPort = z.string().regex(/^[^\s]+:\d{1,5}$/, 'must be host:port');
const absolutePath = z.string().startsWith('/', 'must be an absolute path');

const schema = z.strictObject({
  node_name: z.string().min(1).default(() => hostname()),
  /** "bpf": the real fast path. "fake": in-memory tables, for development and tests. */
  dataplane: z.enum(['bpf', 'fake']).default('bpf'),
  /** This node's VXLAN tunnel endpoint, on the underlay interface. */
  vtep_ip: ipv4,
  underlay_interface: ifname,
  /**
   * The largest IPv4 packet the underlay carries (Neutron's global_physnet_mtu).
   * Default: the underlay interface's MTU with dataplane bpf, 1500 with fake.
   * VXLAN networks created with mtu 0 get this minus 50.
   */
  underlay_mtu: z.number().int().min(118, 'must leave room for a 68-byte network MTU after 50 bytes of VXLAN headers').max(9050).optional(),
  /** Physical network name -> interface, like Neutron's bridge_mappings (e.g. external: eth2). */
  physical_networks: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'physical network names are 1-64 of A-Z a-z 0-9 _ . -'), ifname).default({}),
  bpffs_root: absolutePath.default('/sys/fs/bpf/xdpnet'),
  state_dir: absolutePath.default('/var/lib/xdpnet'),
  api: z
    .strictObject({
      socket: absolutePath.nullable().default('/run/xdpnet/xdpnetd.sock'),
      tcp: z
        .strictObject({
          address: hostPort,
          tls: z.strictObject({ cert_file: absolutePath, key_file: absolutePath, ca_file: absolutePath }),
        })
        .optional(),
    })
    .default({ socket: '/run/xdpnet/xdpnetd.sock' }),
  metrics: z.strictObject({ address: hostPort.nullable().default('127.0.0.1:9651') }).default({ address: '127.0.0.1:9651' }),
  reconcile: z
    .strictObject({ full_pass_interval_seconds: z.number().int().min(1).max(86_400).default(30) })
    .default({ full_pass_interval_seconds: 30 }),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
    .default({ level: 'info' }),
});

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Validates an already-parsed document; `source` names it in errors. */
export function parseConfig(document: unknown, source: string): Config {
  const result = schema.safeParse(document ?? {});
  if (result.success) {
    if (!result.data.api.socket && !result.data.api.tcp) {
      throw new ConfigError(`${source}: api: configure a socket, a tcp address, or both`);
    }
    return result.data;
  }
  const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
  throw new ConfigError(`${source}: invalid configuration:\n${lines.join('\n')}`);
}

/** Reads and validates a YAML (or JSON, which is YAML) file. */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read: ${(err as Error).message}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML/JSON: ${(err as Error).message}`);
  }
  return parseConfig(document, path);
}
