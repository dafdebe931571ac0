import { describe, expect, it } from 'vitest';
import { decide, gatherFacts } from '../helpers/privileged.js';
import type { Facts } from '../helpers/privileged.js';

const all: Facts = { uid: 0, btfVmlinux: true, addonBuilt: true, ipTool: true };
const local = {};
const ci = { CI: 'true' };

describe('privileged decide()', () => {
  it('runs when every need is met', () => {
    expect(decide(['root', 'bpf', 'netns'], all, local)).toEqual({ action: 'run' });
    expect(decide(['root', 'bpf', 'netns'], all, ci)).toEqual({ action: 'run' });
    expect(decide([], { ...all, uid: 1000 }, ci)).toEqual({ action: 'run' });
  });

  it('skips locally with one line naming what is missing', () => {
    const d = decide(['root'], { ...all, uid: 1000 }, local, 'xdp attach');
    expect(d).toEqual({
      action: 'skip',
      missing: ['root (running as uid 1000)'],
      message: 'xdp attach: needs root (running as uid 1000)',
    });
  });

  it('fails on CI instead of skipping', () => {
    const d = decide(['netns'], { ...all, uid: 1000 }, ci, 'topology');
    expect(d.action).toBe('fail');
    if (d.action !== 'fail') return;
    expect(d.message).toBe('topology: needs root (running as uid 1000)');
  });

  it('CI must be exactly "true"', () => {
    expect(decide(['root'], { ...all, uid: 5 }, { CI: '1' }).action).toBe('skip');
    expect(decide(['root'], { ...all, uid: 5 }, { CI: 'false' }).action).toBe('skip');
  });

  it('bpf needs root, BTF and the addon', () => {
    expect(decide(['bpf'], { ...all, btfVmlinux: false }, local)).toMatchObject({
      action: 'skip',
      missing: [expect.stringMatching(/^kernel BTF \(\/sys\/kernel\/btf\/vmlinux missing\)$/)],
    });
    expect(decide(['bpf'], { ...all, addonBuilt: false }, local)).toMatchObject({
      missing: [expect.stringMatching(/^the native addon \(.*native\/build\/Release\/xdpnet_native\.node missing/)],
    });
    const none = decide(['bpf'], { uid: 1000, btfVmlinux: false, addonBuilt: false, ipTool: true }, local);
    expect(none.action === 'skip' && none.missing).toHaveLength(3);
    // bpf does not need `ip`
    expect(decide(['bpf'], { ...all, ipTool: false }, local)).toEqual({ action: 'run' });
  });

  it('netns needs root and ip', () => {
    expect(decide(['netns'], { ...all, ipTool: false }, local)).toMatchObject({
      action: 'skip',
      missing: ['iproute2 (`ip` not found)'],
    });
    // netns does not need BTF or the addon
    expect(decide(['netns'], { ...all, btfVmlinux: false, addonBuilt: false }, local)).toEqual({ action: 'run' });
  });

  it('lists each missing thing once, in need order', () => {
    const d = decide(['root', 'netns', 'bpf'], { uid: 1000, btfVmlinux: false, addonBuilt: true, ipTool: false }, ci, 's');
    expect(d).toMatchObject({
      action: 'fail',
      missing: ['root (running as uid 1000)', 'iproute2 (`ip` not found)', 'kernel BTF (/sys/kernel/btf/vmlinux missing)'],
    });
  });

  it('gatherFacts returns booleans and a uid', () => {
    const f = gatherFacts();
    expect(typeof f.uid).toBe('number');
    expect(typeof f.btfVmlinux).toBe('boolean');
    expect(typeof f.addonBuilt).toBe('boolean');
    expect(typeof f.ipTool).toBe('boolean');
  });
});
