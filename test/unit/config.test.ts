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
  ])('rejects %j naming the key', (document, expected) => {
    expect(() => parseConfig(document, 'cfg.yaml')).toThrow(ConfigError);
    expect(() => parseConfig(document, 'cfg.yaml')).toThrow(expected);
  });

  it('the shipped example configuration is valid', () => {
    const config = loadConfig(join(REPO_ROOT, 'packaging/xdpnetd.example.yaml'));
    expect(config).toMatchObject({ vtep_ip: '192.0.2.11', underlay_interface: 'eth1', dataplane: 'bpf' });
  });

  it('names the file when it cannot be read or parsed', () => {
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'vtep_ip: [unclosed');
    expect(() => loadConfig(bad)).toThrow(/bad\.yaml: not valid YAML/);
  });
});
