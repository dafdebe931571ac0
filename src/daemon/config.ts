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
/** A timeout in whole seconds: at least 1, at most 30 days. */
const seconds = z.number().int().min(1).max(30 * 86_400);

/** "MIN-MAX": the external ports (and ICMP echo identifiers) SNAT hands out, both included. */
const portRange = z
  .string()
  .regex(/^\d{1,5}-\d{1,5}$/, 'must be "MIN-MAX", e.g. "1024-65535"')
  .transform((text, ctx) => {
    const [min, max] = text.split('-').map(Number) as [number, number];
    if (min < 1 || max > 65535 || min > max) {
      ctx.addIssue({ code: 'custom', message: `must be MIN-MAX with 1 <= MIN <= MAX <= 65535, got ${text}` });
      return z.NEVER;
    }
    return { min, max };
  });

/**
 * SNAT on a gateway node (a node with physical_networks): the conntrack
 * table, the garbage collector's timeouts and the external NIC's program.
 * On a node without physical networks the settings are accepted and unused
 * (its conntrack table is loaded at a token size).
 */
const snat = z.strictObject({
  /** External ports (and ICMP echo identifiers) SNAT allocates. */
  port_range: portRange.default({ min: 1024, max: 65535 }),
  /**
   * Connections the conntrack table holds on a node with physical networks
   * (two map entries each, preallocated: ~256 bytes a connection, ~270 MB at
   * the default). Changing it later needs the pinned table removed (every
   * SNAT connection is lost) unless the table is empty.
   */
  conntrack_max: z.number().int().min(1024).max(8_388_608).default(1_048_576),
  /**
   * What becomes of a packet to a router's external IP that belongs to no
   * connection: false hands it to the kernel (a node that does not forward
   * IPv4 drops it; the NIC stays usable for the node's own traffic, but
   * unsolicited packets reach its stack), true drops it in XDP (cheaper under
   * attack; needed where net.ipv4.ip_forward=1, whose kernel would route such
   * packets on). packaging/xdpnetd.example.yaml says more.
   */
  drop_unsolicited: z.boolean().default(false),
  /** Check the IPv4 header checksum of what arrives on the external NIC (xdp_external). */
  verify_ipv4_checksum: z.boolean().default(true),
  /** How often the collector walks the conntrack table for expired connections. */
  gc_interval_seconds: z.number().int().min(1).max(3_600).default(10),
  /** Idle time after which a connection expires, by what it has seen (Linux's nf_conntrack has similar ones). */
  timeouts: z
    .strictObject({
      /** TCP after the handshake was answered. RFC 5382 asks for at least 2 h 4 min; Linux uses 5 days. */
      tcp_established_seconds: seconds.default(86_400),
      /** TCP before the handshake was answered (a SYN without SYN-ACK). */
      tcp_opening_seconds: seconds.default(120),
      /** TCP after a FIN in either direction. */
      tcp_closing_seconds: seconds.default(120),
      /** TCP after a RST in either direction. */
      tcp_reset_seconds: seconds.default(10),
      /** UDP that has had no reply. */
      udp_seconds: seconds.default(30),
      /** UDP that has had a reply. */
      udp_replied_seconds: seconds.default(180),
      /** ICMP echo. */
      icmp_seconds: seconds.default(30),
    })
    .prefault({}),
});

export type SnatConfig = z.infer<typeof snat>;

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
  snat: snat.prefault({}),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
    .default({ level: 'info' }),
});

export type Config = z.infer<typeof schema>;

/** The schema itself, for introspection: the README's configuration table is checked against it (test/e2e/readme-commands.test.ts). */
export const configSchema = schema;

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
