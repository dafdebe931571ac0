// The CLI's option-value parsers: key=value specs, numbers, choices, and the
// --x / --no-x list edits of `set`.

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  parseAllowedAddress,
  parseChoice,
  parseFixedIp,
  parseInteger,
  parseRoute,
  parseSeconds,
  parseSpec,
} from '../../src/cli/parse-specs.js';
import { applyListEdit, type ListEdit, listEditOptions, Update } from '../../src/cli/resources.js';

const SUBNET = '22222222-2222-4222-8222-222222222222';

describe('parseSpec', () => {
  const keys = [
    { name: 'subnet', required: true, aliases: ['subnet-id'] },
    { name: 'ip-address', required: false },
  ];

  it('reads key=value pairs, keys in any case and with - or _', () => {
    expect(parseSpec('subnet=a,ip-address=1.2.3.4', keys, 'X')).toEqual({ subnet: 'a', 'ip-address': '1.2.3.4' });
    expect(parseSpec('SUBNET_ID=a, IP_ADDRESS = 1.2.3.4', keys, 'X')).toEqual({ subnet: 'a', 'ip-address': '1.2.3.4' });
  });

  it.each([
    ['', /empty spec/],
    ['subnet', /"subnet" is not key=value/],
    ['subnet=a,bogus=1', /unknown key "bogus"/],
    ['subnet=', /subnet has an empty value/],
    ['subnet=a,subnet-id=b', /subnet given twice/],
    ['ip-address=1.2.3.4', /missing subnet/],
  ])('refuses %j', (text, message) => {
    expect(() => parseSpec(text, keys, 'subnet=ID[,ip-address=IP]')).toThrow(InvalidArgumentError);
    expect(() => parseSpec(text, keys, 'subnet=ID[,ip-address=IP]')).toThrow(message);
  });

  it('quotes the expected shape in every error', () => {
    expect(() => parseSpec('x=1', keys, 'subnet=ID[,ip-address=IP]')).toThrow('(expected subnet=ID[,ip-address=IP])');
  });
});

describe('the spec options', () => {
  it('--fixed-ip needs both the subnet and the address (the daemon allocates nothing)', () => {
    expect(parseFixedIp(`subnet=${SUBNET},ip-address=10.0.0.5`)).toEqual({ subnetId: SUBNET, ipAddress: '10.0.0.5' });
    expect(() => parseFixedIp(`subnet=${SUBNET}`)).toThrow(/missing ip-address/);
    expect(() => parseFixedIp('ip-address=10.0.0.5')).toThrow(/missing subnet/);
  });

  it('--route / --host-route take openstack\'s "gateway" and the API\'s "nexthop"', () => {
    expect(parseRoute('destination=10.1.0.0/16,gateway=10.0.0.1')).toEqual({ destination: '10.1.0.0/16', nexthop: '10.0.0.1' });
    expect(parseRoute('destination=10.1.0.0/16,nexthop=10.0.0.1')).toEqual({ destination: '10.1.0.0/16', nexthop: '10.0.0.1' });
    expect(() => parseRoute('destination=10.1.0.0/16')).toThrow(/missing gateway/);
  });

  it('--allowed-address has an optional MAC ("" = the port\'s own, as in the API)', () => {
    expect(parseAllowedAddress('ip-address=10.0.0.0/28')).toEqual({ ipAddress: '10.0.0.0/28', macAddress: '' });
    expect(parseAllowedAddress('ip-address=10.0.0.9,mac-address=fa:16:3e:00:00:09')).toEqual({
      ipAddress: '10.0.0.9',
      macAddress: 'fa:16:3e:00:00:09',
    });
  });

  it('does not judge values: that is the daemon\'s job, with its own field names', () => {
    expect(parseFixedIp('subnet=not-a-uuid,ip-address=999.1.1.1')).toEqual({ subnetId: 'not-a-uuid', ipAddress: '999.1.1.1' });
  });
});

describe('numbers and choices', () => {
  it('parseInteger takes plain decimal whole numbers in range', () => {
    const p = parseInteger(1, 4094);
    expect(p('1')).toBe(1);
    expect(p(' 4094 ')).toBe(4094);
    for (const bad of ['0', '4095', '-1', '1.5', '1e3', '0x10', '', 'abc']) expect(() => p(bad), bad).toThrow(InvalidArgumentError);
  });

  it('parseSeconds takes fractions, not zero', () => {
    expect(parseSeconds(60)('0.5')).toBe(0.5);
    expect(parseSeconds(60)('10')).toBe(10);
    for (const bad of ['0', '61', '-1', 'x', '']) expect(() => parseSeconds(60)(bad), bad).toThrow(InvalidArgumentError);
  });

  it('parseChoice maps words to API values, case-insensitively', () => {
    const p = parseChoice({ vxlan: 'NETWORK_TYPE_VXLAN', flat: 'NETWORK_TYPE_FLAT' });
    expect(p('VXLAN')).toBe('NETWORK_TYPE_VXLAN');
    expect(() => p('geneve')).toThrow('expected one of: vxlan, flat');
  });
});

describe('list edits (--route / --no-route)', () => {
  /** Parses argv with just the two options, as `router set` has them. */
  function edit(argv: string[]): ListEdit<string> | undefined {
    const cmd = new Command().exitOverride();
    listEditOptions(cmd, { flag: 'route', arg: 'spec', parse: (s) => s, add: 'add', clear: 'clear' });
    cmd.parse(argv, { from: 'user' });
    return cmd.opts()['route'] as ListEdit<string> | undefined;
  }

  it('--x adds, --no-x clears, both replace, in either order', () => {
    expect(edit([])).toBeUndefined();
    expect(edit(['--route', 'a', '--route', 'b'])).toEqual({ clear: false, add: ['a', 'b'] });
    expect(edit(['--no-route'])).toEqual({ clear: true, add: [] });
    expect(edit(['--no-route', '--route', 'a'])).toEqual({ clear: true, add: ['a'] });
    expect(edit(['--route', 'a', '--no-route'])).toEqual({ clear: true, add: ['a'] });
  });

  it('applies an edit to the current list without duplicates', () => {
    const same = (a: string, b: string) => a === b;
    expect(applyListEdit(['a'], undefined, same)).toBeUndefined();
    expect(applyListEdit(['a'], { clear: false, add: ['b', 'a'] }, same)).toEqual(['a', 'b']);
    expect(applyListEdit(['a'], { clear: true, add: ['b'] }, same)).toEqual(['b']);
    expect(applyListEdit(['a'], { clear: true, add: [] }, same)).toEqual([]);
  });

  it('the spec parser\'s error is a usage error', () => {
    const cmd = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    listEditOptions(cmd, { flag: 'route', arg: 'spec', parse: parseRoute, add: 'add', clear: 'clear' });
    let error: unknown;
    try {
      cmd.parse(['--route', 'destination=10.0.0.0/8'], { from: 'user' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CommanderError);
    expect((error as CommanderError).code).toBe('commander.invalidArgument');
  });
});

describe('Update', () => {
  it('names in the mask only the fields given', () => {
    const u = new Update<{ id?: string; name?: string; mtu?: number; adminStateUp?: boolean }>('n1')
      .field('name', 'x', (name) => ({ name }))
      .field('mtu', undefined, (mtu: number) => ({ mtu }))
      .field('admin_state_up', false, (adminStateUp) => ({ adminStateUp }));
    expect(u.resource).toEqual({ id: 'n1', name: 'x', adminStateUp: false });
    expect(u.mask).toEqual(['name', 'admin_state_up']);
  });

  it('refuses to send an empty mask, naming the options', () => {
    expect(() => new Update('n1').requireChanges('--name, --mtu')).toThrow('nothing to change: give at least one of --name, --mtu');
  });
});
