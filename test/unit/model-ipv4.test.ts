import { describe, expect, it } from 'vitest';
import {
  broadcastAddress,
  cidrContains,
  cidrsOverlap,
  firstHost,
  formatCidr,
  formatIpv4,
  lastHost,
  parseAddressOrCidr,
  parseCidr,
  parseIpv4,
  whyNotUnicastHost,
} from '../../src/model/ipv4.js';

const ip = (t: string) => {
  const r = parseIpv4(t);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};
const cidr = (t: string) => {
  const r = parseCidr(t);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};
const reason = (r: { ok: boolean; reason?: string }) => (r.ok ? '' : (r.reason ?? ''));

describe('IPv4 addresses', () => {
  it('parses and formats dotted quads, including the extremes', () => {
    expect(ip('0.0.0.0')).toBe(0);
    expect(ip('255.255.255.255')).toBe(0xffffffff);
    expect(ip('10.1.2.3')).toBe(0x0a010203);
    expect(formatIpv4(0xc0a80001)).toBe('192.168.0.1');
    expect(formatIpv4(ip('172.16.254.1'))).toBe('172.16.254.1');
  });

  it.each([
    ['', /required/],
    ['10.0.0', /not an IPv4 address/],
    ['10.0.0.0.1', /not an IPv4 address/],
    ['10.0.0.256', /above 255/],
    ['10.0.0.01', /leading zero/],
    [' 10.0.0.1', /not an IPv4 address/],
    ['a.b.c.d', /not an IPv4 address/],
    ['::1', /not an IPv4 address/],
  ])('refuses %j with a reason', (text, why) => {
    const r = parseIpv4(text);
    expect(r.ok).toBe(false);
    expect(reason(r)).toMatch(why);
  });
});

describe('CIDRs', () => {
  it('parses network/prefix and formats it back', () => {
    expect(cidr('10.0.0.0/24')).toEqual({ base: ip('10.0.0.0'), prefix: 24 });
    expect(formatCidr(cidr('0.0.0.0/0'))).toBe('0.0.0.0/0');
    expect(formatCidr(cidr('10.0.0.5/32'))).toBe('10.0.0.5/32');
  });

  it('refuses host bits set, naming the network that was probably meant', () => {
    const r = parseCidr('10.0.0.5/24');
    expect(r.ok).toBe(false);
    expect(reason(r)).toMatch(/host bits set/);
    expect(reason(r)).toMatch(/10\.0\.0\.0\/24/);
  });

  it.each([
    ['10.0.0.0', /prefix length is missing/],
    ['10.0.0.0/33', /0\.\.32/],
    ['10.0.0.0/08', /0\.\.32/],
    ['10.0.0.0/', /0\.\.32/],
    ['10.0.0/24', /not a CIDR/],
  ])('refuses %j', (text, why) => {
    expect(reason(parseCidr(text))).toMatch(why);
  });

  it('computes network, broadcast, first and last host', () => {
    const c = cidr('192.168.4.0/22');
    expect(formatIpv4(broadcastAddress(c))).toBe('192.168.7.255');
    expect(formatIpv4(firstHost(c))).toBe('192.168.4.1');
    expect(formatIpv4(lastHost(c))).toBe('192.168.7.254');
    expect(formatIpv4(broadcastAddress(cidr('0.0.0.0/0')))).toBe('255.255.255.255');
    expect(formatIpv4(broadcastAddress(cidr('10.0.0.4/30')))).toBe('10.0.0.7');
  });

  it('tests containment and overlap', () => {
    const c = cidr('10.0.0.0/24');
    expect(cidrContains(c, ip('10.0.0.0'))).toBe(true);
    expect(cidrContains(c, ip('10.0.0.255'))).toBe(true);
    expect(cidrContains(c, ip('10.0.1.0'))).toBe(false);
    expect(cidrContains(cidr('0.0.0.0/0'), ip('255.1.2.3'))).toBe(true);
    expect(cidrsOverlap(c, cidr('10.0.0.128/25'))).toBe(true);
    expect(cidrsOverlap(cidr('10.0.0.128/25'), c)).toBe(true);
    expect(cidrsOverlap(c, cidr('10.0.0.0/8'))).toBe(true);
    expect(cidrsOverlap(c, cidr('10.0.1.0/24'))).toBe(false);
  });

  it('accepts an address or a CIDR where either is allowed', () => {
    expect(parseAddressOrCidr('10.0.0.7')).toEqual({ ok: true, value: { text: '10.0.0.7' } });
    expect(parseAddressOrCidr('10.0.0.0/8')).toEqual({ ok: true, value: { text: '10.0.0.0/8' } });
    expect(parseAddressOrCidr('10.0.0.7/8').ok).toBe(false);
  });
});

describe('unicast host addresses', () => {
  it.each([
    ['0.0.0.0', /this network/],
    ['127.0.0.1', /loopback/],
    ['224.0.0.5', /multicast/],
    ['255.255.255.255', /reserved/],
  ])('%s is not one', (text, why) => {
    expect(whyNotUnicastHost(ip(text))).toMatch(why);
  });

  it('ordinary addresses are', () => {
    expect(whyNotUnicastHost(ip('192.0.2.10'))).toBeNull();
    expect(whyNotUnicastHost(ip('10.255.255.255'))).toBeNull();
  });
});
