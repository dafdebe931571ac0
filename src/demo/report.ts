// What the demo shows around the traffic: the picture of what it built, the
// per-node statistics read back from the daemons at the end, and where to
// look next.

import { formatTable } from '../cli/output.js';
import type { Daemons } from './daemons.js';
import { bold, say, section, shellQuote } from './output.js';
import {
  EXTERNAL,
  FLOATING_IP,
  INTERNET,
  INTERNET_SERVER,
  type Instance,
  NODES,
  type NodeName,
  ROUTER,
  SWITCH,
  TENANT_NETWORKS,
  VMS,
  VTEP,
  nodeFiles,
  nsName,
  switchPort,
} from './plan.js';
import { cliArgv } from './programming.js';

/** How this instance is removed: `make demo-clean` for the default one. */
export const cleanCommand = (inst: Instance): string =>
  inst.name === '' ? 'make demo-clean' : `node dist/demo/main.js clean --instance ${inst.name}`;

const indent = (text: string, by = '   ') =>
  text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => by + l)
    .join('\n');

const print = (text: string) => process.stdout.write(`${text}\n`);

/** The topology as built (plan.ts has the same picture as a comment). */
export function diagram(): string {
  const v = (name: string) => VMS.find((x) => x.name === name)!;
  const vm = (name: string) => `${name} ${v(name).ip} ${v(name).net}`.padEnd(20);
  /** `+---- label ----+` of `width` characters. */
  const rule = (label: string, width: number) => {
    if (label === '') return `+${'-'.repeat(width - 2)}+`;
    const dashes = width - 2 - label.length - 2;
    return `+${'-'.repeat(Math.floor(dashes / 2))} ${label} ${'-'.repeat(Math.ceil(dashes / 2))}+`;
  };
  /** `| text    |` of `width` characters. */
  const box = (text: string, width: number) => `| ${text.padEnd(width - 4)} |`;
  const at = (col: number, text: string) => ' '.repeat(col) + text;
  const node = (col: number, lines: string[], top: string, bottom: string) =>
    [at(col, rule(top, 38)), ...lines.map((l) => at(col, box(l, 38))), at(col, rule(bottom, 38))];
  return [
    `  ${vm('vm1')}${vm('vm2')}${vm('vm3')}${vm('vm4')}`.trimEnd(),
    `     ${['tap-vm1', 'tap-vm2', 'tap-vm3', 'tap-vm4'].map((t) => `| ${t}`.padEnd(20)).join('')}`.trimEnd(),
    `  ${rule('compute1', 37)} ${rule('compute2', 37)}`,
    `  ${box(`xdpnetd, VTEP ${VTEP.compute1}`, 37)} ${box(`xdpnetd, VTEP ${VTEP.compute2}`, 37)}`,
    `  ${rule('eth0', 37)} ${rule('eth0', 37)}`,
    at(19, `|${' guest network 192.0.2.0/24, VXLAN '.padStart(36).padEnd(37)}|`),
    at(19, rule('switch (br0)', 39)),
    at(38, '|'),
    ...node(19, ['network node: xdpnetd', `VTEP ${VTEP.network}`, `external NIC eth1 ${EXTERNAL.networkNode}`], 'eth0', 'eth1'),
    at(38, `|    external network ${EXTERNAL.cidr}`),
    ...node(19, ['internet host', `${EXTERNAL.gateway}: the external gateway`, `${INTERNET_SERVER.ip}: a web server`], 'eth0', ''),
  ].join('\n');
}

export function describeTopology(inst: Instance): void {
  print(diagram());
  say(`tenant networks: ${Object.values(TENANT_NETWORKS).map((n) => `${n.name} ${n.cidr} (VNI ${n.vni}, gateway ${n.gateway})`).join(', ')}; ${ROUTER.name} joins them`);
  say(`${ROUTER.name}'s external gateway ${EXTERNAL.routerIp} is on the network node; floating IP ${EXTERNAL.floatingIp} -> ${FLOATING_IP.vm}`);
  say(`namespaces: ${[...NODES, SWITCH, INTERNET, 'vm1', '…'].map((n) => nsName(inst, n)).join(' ')} (ip netns list)`);
}

/** Reason counters side by side, programs attached, per-port counters: all read from the daemons. */
export async function statsTables(daemons: Daemons): Promise<void> {
  const [reasons, statuses, ports] = await Promise.all([
    Promise.all(NODES.map((n) => daemons.reasons(n))),
    Promise.all(NODES.map((n) => daemons.status(n))),
    Promise.all(NODES.map((n) => daemons.portCounters(n))),
  ]);

  section('Per-node statistics (from the daemons: GetReasonCounters, GetNodeStatus, GetPortCounters)');
  const total = new Map<string, bigint>();
  for (const r of reasons) for (const [reason, n] of r) total.set(reason, (total.get(reason) ?? 0n) + n);
  const top = [...total.entries()]
    .filter(([, n]) => n > 0n)
    .sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : a[0].localeCompare(b[0])))
    .slice(0, 12)
    .map(([reason]) => reason);
  say(bold('Packets by reason since the daemons started (top 12; xdpnet stats shows them all, with what each means):'));
  print(indent(formatTable(['Reason', ...NODES], top.map((reason) => [reason.replace(/^REASON_/, ''), ...reasons.map((r) => String(r.get(reason) ?? 0n))]))));

  say(bold('Programs attached (xdpnet status):'));
  const programRows: string[][] = [];
  NODES.forEach((node, i) => {
    for (const p of statuses[i]!.programs) programRows.push([node, p.interfaceName, p.programName, p.hook]);
  });
  print(indent(formatTable(['Node', 'Interface', 'Program', 'Hook'], programRows)));

  say(bold('Ports bound on each node (xdpnet stats ports: RX = sent by the VM, TX = delivered to it):'));
  const portRows: string[][] = [];
  NODES.forEach((node, i) => {
    for (const p of ports[i]!.ports) {
      const vm = VMS.find((v) => v.portId === p.portId);
      portRows.push([node, vm ? `${vm.name} (${vm.tap})` : p.portId, p.rxPackets, p.txPackets, p.droppedPackets]);
    }
  });
  print(indent(formatTable(['Node', 'Port', 'RX Packets', 'TX Packets', 'Dropped'], portRows)));
}

/** Commands to try next, on the running demo. */
export function whereToLookNext(inst: Instance): void {
  const cli = (node: NodeName, ...args: string[]) => cliArgv(inst, node, args).map(shellQuote).join(' ');
  const ns = (short: string) => nsName(inst, short);
  const rows: [string, string][] = [
    [cli('compute1', 'status'), "compute1's daemon: config, programs, maps, last reconcile"],
    [cli('compute1', 'port', 'list'), 'the ports compute1 knows: its own (local) and the others (remote)'],
    [cli('compute2', 'stats'), 'packets by reason, with what each reason means'],
    [cli('compute2', 'stats', 'ports'), 'per-port counters of the ports bound on compute2'],
    [cli('network', 'router', 'show', ROUTER.id), `${ROUTER.name}: interfaces, external gateway, status`],
    [`export XDPNET_SOCKET=${nodeFiles(inst, 'compute2').socket}`, 'then `bin/xdpnet …` talks to compute2 without --socket'],
    [`ip netns exec ${ns('vm1')} ping ${VMS[3]!.ip}`, 'traffic of your own, from any VM (vm1 … vm4)'],
    [`ip netns exec ${ns('vm1')} bash`, 'a shell inside vm1 (exit to leave); same for compute1, network, internet'],
    [`ip netns exec ${ns('compute1')} bpftool net`, "the XDP programs on compute1's interfaces, as the kernel lists them"],
    [`ip netns exec ${ns(SWITCH)} tcpdump -ni ${switchPort('compute1')} udp port 4789`, 'the VXLAN packets compute1 sends and receives on the underlay'],
    [`ip netns exec ${ns('vm1')} curl -s http://${INTERNET_SERVER.ip}/`, `the internet web server says which address it saw: ${ROUTER.name}'s external IP ${EXTERNAL.routerIp} (SNAT)`],
    [`less ${nodeFiles(inst, 'compute1').log}`, "a daemon's log (JSON lines); each node has its own"],
    [cleanCommand(inst), `remove everything: daemons, namespaces, pins (${inst.bpffsDir}), ${inst.dir}`],
  ];
  section(`Where to look next (the demo keeps running until ${cleanCommand(inst)})`);
  for (const [cmd, what] of rows) {
    say(cmd);
    say(`    ${what}`);
  }
}
