// End-to-end tests of the namespace helpers themselves (test/helpers/netns.ts).
// Traffic stays between addresses inside the namespaces created here.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CommandError,
  MARKER_DIR,
  Topology,
  namespaceExists,
  ownerAlive,
  sweepStale,
  useTopology,
  writeOwnerMarker,
} from '../helpers/netns.js';
import { describePrivileged } from '../helpers/privileged.js';

function netnsList(): string {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
}

function rootLinkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describePrivileged('netns helpers', ['netns'], () => {
  describe('two namespaces and a veth', () => {
    const topo = useTopology({
      setup: async (t) => {
        await t.addNamespace('a', { disableIpv6: true });
        await t.addNamespace('b', { disableIpv6: true });
        await t.addVeth({
          a: { ns: 'a', name: 'eth0', ip: '10.0.0.1/24' },
          b: { ns: 'b', name: 'eth0', ip: '10.0.0.2/24' },
          mtu: 1400,
        });
      },
    });

    it('names carry the unique prefix', () => {
      expect(topo().prefix).toMatch(/^xt[0-9a-z]{6}$/);
      expect(topo().nsName('a')).toBe(`${topo().prefix}-a`);
      expect(netnsList()).toContain(`${topo().prefix}-a`);
      expect(ownerAlive(topo().prefix)).toBe(true);
      expect(existsSync(`${MARKER_DIR}/${topo().prefix}.pid`)).toBe(true);
    });

    it('ping works across the veth', async () => {
      expect(await topo().ping('a', '10.0.0.2', { count: 3 })).toBe(3);
      expect(await topo().ping('b', '10.0.0.1')).toBe(1);
    });

    it('ping to an absent address receives nothing', async () => {
      expect(await topo().ping('a', '10.0.0.99', { timeoutMs: 1000 })).toBe(0);
    });

    it('exec returns output, throws on failure unless allowFailure', async () => {
      const r = await topo().exec('a', ['ip', '-j', 'link', 'show', 'eth0']);
      const [link] = JSON.parse(r.stdout) as Array<{ ifname: string; mtu: number }>;
      expect(link).toMatchObject({ ifname: 'eth0', mtu: 1400 });

      const err = await topo()
        .exec('a', ['ip', 'link', 'show', 'nonexistent0'])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CommandError);
      expect((err as CommandError).result.stderr).toMatch(/does not exist/);
      expect((err as Error).message).toMatch(/--- stderr/);

      const soft = await topo().exec('a', ['ip', 'link', 'show', 'nonexistent0'], { allowFailure: true });
      expect(soft.code).not.toBe(0);
    });

    it('exec times out', async () => {
      const r = await topo().exec('a', ['sleep', '10'], { timeoutMs: 300, allowFailure: true });
      expect(r.timedOut).toBe(true);
      await expect(topo().exec('a', ['sleep', '10'], { timeoutMs: 300 })).rejects.toThrow(/timed out/);
    });

    it('spawn runs in the namespace only (nsenter --net), and waitFor sees tcpdump output', async () => {
      const ident = topo().spawn('b', ['ip', 'netns', 'identify']);
      await ident.exited;
      expect(ident.stdout.trim()).toBe(topo().nsName('b'));

      const dump = topo().spawn('b', ['tcpdump', '-n', '-l', '-i', 'eth0', 'icmp']);
      await dump.waitFor(/listening on eth0/);
      expect(await topo().ping('a', '10.0.0.2', { count: 2 })).toBe(2);
      await dump.waitFor(/10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request/);
      await dump.stop();
      expect(dump.running).toBe(false);
    });
  });

  it('destroy removes namespaces, root links, processes, the marker; is idempotent', async () => {
    const t = await Topology.create();
    try {
      const nsA = await t.addNamespace('a');
      const { a } = await t.addVeth({ a: { name: 'r0' }, b: { ns: 'a', name: 'eth0', ip: '10.9.0.2/24' } });
      expect(a.name).toBe(`${t.prefix}-r0`);
      expect(rootLinkExists(a.name)).toBe(true);
      const sleeper = t.spawn('a', ['sleep', '600']);
      await new Promise((r) => setTimeout(r, 100));
      expect(sleeper.running).toBe(true);

      await Promise.all([t.destroy(), t.destroy()]);
      await t.destroy();

      expect(netnsList()).not.toContain(nsA);
      expect(namespaceExists(nsA)).toBe(false);
      expect(rootLinkExists(a.name)).toBe(false);
      expect(sleeper.running).toBe(false);
      expect(processAlive(sleeper.pid)).toBe(false);
      expect(existsSync(`${MARKER_DIR}/${t.prefix}.pid`)).toBe(false);
      expect(() => t.spawn('a', ['true'])).toThrow(/destroyed/);
    } finally {
      await t.destroy();
    }
  });

  it('the stale sweep removes leftovers of a dead owner and keeps live ones', async () => {
    const live = await Topology.create();
    const prefix = `xt${randomBytes(3).toString('hex')}`; // 6 hex chars are valid base36
    const ns = `${prefix}-st`;
    const link = `${prefix}-sl`;
    const bpfDir = `/sys/fs/bpf/xdpnet-test/${prefix}`;
    // An owner process that we can kill: the leftovers of a crashed test run.
    const owner = spawn('sleep', ['600'], { stdio: 'ignore' });
    const ownerExit = new Promise((r) => owner.once('exit', r));
    let stragglerExit: Promise<unknown> = Promise.resolve();
    let killStraggler = () => {};
    try {
      await live.addNamespace('keep');
      writeOwnerMarker(prefix, owner.pid);
      execFileSync('ip', ['netns', 'add', ns]);
      execFileSync('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${prefix}-sp`]);
      // A process left inside the stale namespace must not keep it alive.
      const straggler = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', 'sleep', '600'], { stdio: 'ignore' });
      stragglerExit = new Promise((r) => straggler.once('exit', r));
      killStraggler = () => straggler.kill('SIGKILL');
      let bpfMade = false;
      try {
        mkdirSync(bpfDir, { recursive: true });
        writeFileSync(`${bpfDir}/x`, '');
        bpfMade = true;
      } catch {
        // /sys/fs/bpf may be read-only (no bpffs mounted): skip that part
      }
      expect(ownerAlive(prefix)).toBe(true);
      expect(namespaceExists(ns)).toBe(true);

      // Nothing is swept while the owner lives.
      await sweepStale();
      expect(namespaceExists(ns)).toBe(true);
      expect(rootLinkExists(link)).toBe(true);

      owner.kill('SIGKILL');
      await ownerExit;
      expect(ownerAlive(prefix)).toBe(false);

      await sweepStale();
      // (a sweep in a parallel test file may have got there first; only the outcome matters)
      expect(namespaceExists(ns)).toBe(false);
      expect(netnsList()).not.toContain(ns);
      expect(rootLinkExists(link)).toBe(false);
      expect(rootLinkExists(`${prefix}-sp`)).toBe(false);
      expect(existsSync(`${MARKER_DIR}/${prefix}.pid`)).toBe(false);
      if (bpfMade) expect(existsSync(bpfDir)).toBe(false);
      await stragglerExit; // killed by the sweep

      // The live topology survived both sweeps.
      expect(namespaceExists(live.nsName('keep'))).toBe(true);
    } finally {
      owner.kill('SIGKILL');
      killStraggler();
      // Belt and braces in case an assertion failed before the sweep.
      for (const args of [
        ['link', 'del', link],
        ['netns', 'del', ns],
      ]) {
        try {
          execFileSync('ip', args, { stdio: 'ignore' });
        } catch {
          /* already gone */
        }
      }
      await live.destroy();
    }
  });
});
