// `make demo`: a self-service cloud network of three nodes in network
// namespaces, real xdpnetd daemons programmed over their APIs with the CLI,
// real traffic, and the daemons' own statistics. `make demo-clean` removes it.
//
//   node dist/demo/main.js [run]               build and run the demo; it keeps running afterwards
//   node dist/demo/main.js clean               remove it (what `make demo-clean` runs)
//   ... --instance NAME                        a separate instance (the end-to-end test's)
//
// Exit status: 0 every traffic step passed; 1 a step failed or the set-up did
// (a resource in ERROR included); 2 bad command line; 130 interrupted.
//
// What the demo creates is removed if its set-up fails or it is interrupted
// (Ctrl-C, SIGTERM), and before a new run starts; after a run it is left up,
// to explore, until `make demo-clean`. If a traffic step fails the topology
// is left up as well, to look at why.

import { mkdirSync } from 'node:fs';
import { cleanInstance, describeReport, nothingRemoved } from './clean.js';
import { Daemons, logTail } from './daemons.js';
import { blank, bold, failed, ok, say, section, seconds, warn } from './output.js';
import { type Instance, NODES, ROUTER, VTEP, instance, nodeFiles } from './plan.js';
import { programBySync, programOneByOne, waitConverged, xdpnet } from './programming.js';
import { cleanCommand, describeTopology, statsTables, whereToLookNext } from './report.js';
import { Interrupted, interrupt, isInterrupted, settled } from './shell.js';
import { Topology } from './topology.js';
import { Traffic } from './traffic.js';

const USAGE = 'usage: node dist/demo/main.js [run|clean] [--instance NAME]';

interface Args {
  mode: 'run' | 'clean';
  instance: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { mode: 'run', instance: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === 'run' || a === 'clean') args.mode = a;
    else if (a === '--instance' && argv[i + 1] !== undefined) args.instance = argv[++i]!;
    else if (a.startsWith('--instance=')) args.instance = a.slice('--instance='.length);
    else throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  return args;
}

async function clean(inst: Instance): Promise<number> {
  const report = await cleanInstance(inst);
  console.log(nothingRemoved(report) ? 'demo-clean: nothing to remove' : `demo-clean: removed ${describeReport(report)}`);
  return 0;
}

/** Ctrl-C or SIGTERM while the demo runs: let running commands finish, remove everything, exit 130. */
function installInterruptHandler(inst: Instance, daemons: () => Daemons | undefined): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stdout.write(`${signal}: still removing what the demo created, one moment\n`);
      return;
    }
    stopping = true;
    interrupt();
    process.stdout.write(`\n${signal}: interrupted; removing everything the demo created…\n`);
    void (async () => {
      await settled();
      daemons()?.close();
      const report = await cleanInstance(inst);
      process.stdout.write(`removed ${describeReport(report) || 'nothing'}\n`);
      process.exit(130);
    })();
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
}

async function runDemo(inst: Instance): Promise<number> {
  const started = Date.now();
  let daemons: Daemons | undefined;
  installInterruptHandler(inst, () => daemons);

  console.log(bold('xdpnet demo: a self-service cloud network of three nodes, in network namespaces'));
  say('Two compute nodes with two VMs each on two tenant networks, a network node holding the');
  say('external gateway, an internet host; a real xdpnetd on every node, programmed over its API.');

  try {
    const stale = await cleanInstance(inst);
    if (!nothingRemoved(stale)) say(`removed a previous demo first: ${describeReport(stale)}`);
    mkdirSync(inst.dir, { recursive: true });

    section('Topology');
    let t = Date.now();
    await new Topology(inst).build();
    describeTopology(inst);
    ok(`built in ${seconds(Date.now() - t)}`);

    section('Daemons');
    say('one xdpnetd per node (bin/xdpnetd, dataplane bpf), each in its node\'s namespace with its own');
    say(`config, state, API socket (its management network) and bpffs root under ${inst.bpffsDir}:`);
    for (const node of NODES) {
      const f = nodeFiles(inst, node);
      say(`  ${node.padEnd(9)} ${f.config}   socket ${f.socket}`);
    }
    t = Date.now();
    daemons = new Daemons(inst);
    await daemons.start();
    ok(`all three SERVING after ${seconds(Date.now() - t)}`);

    section('Programming the nodes, as orchestration would (the CLI over each node\'s API)');
    say('compute1, one resource at a time: tenant networks web and db, the external network public,');
    say(`${ROUTER.name} with an interface on each tenant subnet and its gateway on public (held by the network`);
    say(`node, VTEP ${VTEP.network}), each VM's port (local on this node, remote elsewhere), a floating IP:`);
    await programOneByOne(inst, 'compute1');
    blank();
    say('compute2 and the network node get the same resources in one call each (what orchestration');
    say('does after reconnecting): the whole desired state, ports bound from that node\'s point of view:');
    for (const node of ['compute2', 'network'] as const) await programBySync(inst, node);
    blank();
    say('each daemon applies what it is told to its maps; every resource reports its status:');
    const counts = await Promise.all(NODES.map((n) => waitConverged(daemons!, n)));
    NODES.forEach((node, i) => ok(`${node}: converged, all ${counts[i]} resources ACTIVE`));
    say("what compute1 knows of the ports: its own VMs' bound to their taps, the others at compute2's VTEP:");
    await xdpnet(inst, 'compute1', ['port', 'list'], { show: true });

    const traffic = new Traffic(inst, daemons);
    const results = await traffic.runAll();

    await statsTables(daemons);
    whereToLookNext(inst);
    daemons.close();

    const passed = results.filter((r) => r.passed);
    section('Summary');
    const line = `${passed.length} of ${results.length} traffic steps passed; ${seconds(Date.now() - started)} in all`;
    if (passed.length === results.length) {
      ok(line);
      say(`the demo keeps running: explore it with the commands above, then ${cleanCommand(inst)}.`);
      return 0;
    }
    failed(line);
    for (const r of results.filter((x) => !x.passed)) failed(`failed: ${r.title}`);
    warn(`the topology is left running to look at why; ${cleanCommand(inst)} removes it.`);
    return 1;
  } catch (err) {
    if (err instanceof Interrupted || isInterrupted()) return new Promise<number>(() => undefined); // the interrupt handler exits
    blank();
    failed(`the demo failed: ${err instanceof Error ? err.message : String(err)}`);
    if (daemons) {
      for (const node of NODES) {
        say(`--- ${node}: end of ${nodeFiles(inst, node).log}`);
        say(logTail(inst, node).split('\n').join('\n   '));
      }
    }
    daemons?.close();
    const report = await cleanInstance(inst);
    say(`removed ${describeReport(report) || 'nothing'}`);
    return 1;
  }
}

async function main(): Promise<number> {
  let args: Args;
  let inst: Instance;
  try {
    args = parseArgs(process.argv.slice(2));
    inst = instance(args.instance);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error('the demo needs root: it creates network namespaces, attaches XDP programs and pins BPF objects (run it with sudo)');
    return 1;
  }
  return args.mode === 'clean' ? clean(inst) : runDemo(inst);
}

process.exit(await main());
