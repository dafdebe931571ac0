import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/daemon/config.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';

const minimal = { vtep_ip: '192.0.2.11', underlay_interface: 'eth1' };

describe('xdpnetd configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xdpnet-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fills defaults around the two required keys', () => {
    const config = parseConfig(minimal, 'test');
    expect(config).toMatchObject({
      dataplane: 'bpf',
      bpffs_root: '/sys/fs/bpf/xdpnet',
      state_dir: '/var/lib/xdpnet',
      api: { socket: '/run/xdpnet/xdpnetd.sock' },
      metrics: { address: '127.0.0.1:9651' },
      reconcile: { full_pass_interval_seconds: 30 },
      physical_networks: {},
    });
    expect(config.node_name.length).toBeGreaterThan(0);
  });

  it('fills the SNAT defaults: the whole port range, a million connections, unsolicited packets to the kernel, Linux-like timeouts', () => {
    expect(parseConfig(minimal, 'test').snat).toEqual({
      port_range: { min: 1024, max: 65535 },
      conntrack_max: 1_048_576,
      drop_unsolicited: false,
      verify_ipv4_checksum: true,
      gc_interval_seconds: 10,
      timeouts: {
        tcp_established_seconds: 86_400,
        tcp_opening_seconds: 120,
        tcp_closing_seconds: 120,
        tcp_reset_seconds: 10,
        udp_seconds: 30,
        udp_replied_seconds: 180,
        icmp_seconds: 30,
      },
    });
  });

  it('reads a port range and keeps the defaults of what a partial snat section leaves out', () => {
    const config = parseConfig({ ...minimal, snat: { port_range: '40000-40001', timeouts: { udp_seconds: 2 } } }, 'test');
    expect(config.snat.port_range).toEqual({ min: 40000, max: 40001 });
    expect(config.snat.timeouts).toMatchObject({ udp_seconds: 2, udp_replied_seconds: 180 });
    expect(config.snat.conntrack_max).toBe(1_048_576);
    expect(parseConfig({ ...minimal, snat: { port_range: '7-7' } }, 'test').snat.port_range).toEqual({ min: 7, max: 7 });
  });

  it('reads YAML from a file', () => {
    const path = join(dir, 'ok.yaml');
    writeFileSync(path, 'vtep_ip: 192.0.2.11\nunderlay_interface: eth1\nphysical_networks:\n  external: eth2\n');
    expect(loadConfig(path).physical_networks).toEqual({ external: 'eth2' });
  });

  it.each([
    [{ ...minimal, vtep_ip: '192.0.2.300' }, 'vtep_ip: must be an IPv4 address'],
    [{ underlay_interface: 'eth1' }, 'vtep_ip:'],
    [{ ...minimal, underlay_interface: 'an-interface-name-too-long' }, 'underlay_interface: must be an interface name'],
    [{ ...minimal, dataplane: 'ebpf' }, 'dataplane:'],
    [{ ...minimal, state_dir: 'var/lib' }, 'state_dir: must be an absolute path'],
    [{ ...minimal, api: { tcp: { address: '0.0.0.0:9650' } } }, 'api.tcp.tls:'],
    [{ ...minimal, api: { socket: null } }, 'api: configure a socket, a tcp address, or both'],
    [{ ...minimal, reconcile: { full_pass_interval_seconds: 0 } }, 'reconcile.full_pass_interval_seconds:'],
    [{ ...minimal, underlay_iface: 'eth1' }, 'underlay_iface'],
    [{ ...minimal, physical_networks: { 'bad name': 'eth2' } }, 'physical_networks.bad name:'],
    [{ ...minimal, snat: { port_range: '2000-1000' } }, 'snat.port_range: must be MIN-MAX with 1 <= MIN <= MAX <= 65535, got 2000-1000'],
    [{ ...minimal, snat: { port_range: '0-1000' } }, 'snat.port_range: must be MIN-MAX'],
    [{ ...minimal, snat: { port_range: '1024-70000' } }, 'snat.port_range: must be MIN-MAX'],
    [{ ...minimal, snat: { port_range: 1024 } }, 'snat.port_range:'],
    [{ ...minimal, snat: { port_range: '1024:65535' } }, 'snat.port_range: must be "MIN-MAX"'],
    [{ ...minimal, snat: { conntrack_max: 10 } }, 'snat.conntrack_max:'],
    [{ ...minimal, snat: { timeouts: { udp_seconds: 0 } } }, 'snat.timeouts.udp_seconds:'],
    [{ ...minimal, snat: { timeouts: { tcp_seconds: 5 } } }, 'snat.timeouts'],
    [{ ...minimal, snat: { drop_unsolicted: true } }, 'snat'],
  ])('rejects %j naming the key', (document, expected) => {
    expect(() => parseConfig(document, 'cfg.yaml')).toThrow(ConfigError);
    expect(() => parseConfig(document, 'cfg.yaml')).toThrow(expected);
  });

  it('the shipped example configuration is valid', () => {
    const config = loadConfig(join(REPO_ROOT, 'packaging/xdpnetd.example.yaml'));
    expect(config).toMatchObject({ vtep_ip: '192.0.2.11', underlay_interface: 'eth1', dataplane: 'bpf' });
    // It documents the defaults: what it shows is what an empty file gets.
    expect(config.snat).toEqual(parseConfig(minimal, 'test').snat);
  });

  it('names the file when it cannot be read or parsed', () => {
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'vtep_ip: [unclosed');
    expect(() => loadConfig(bad)).toThrow(/bad\.yaml: not valid YAML/);
  });
});
