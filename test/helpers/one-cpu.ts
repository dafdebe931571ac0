// Keeps this process's main thread on one CPU while a suite runs. The
// programs' caches are per CPU, so a test that shows a copy is used (a frame
// served from what an earlier frame left) must run both frames on the same
// CPU; BPF_PROG_RUN runs on the calling thread's. taskset is util-linux's.
import { execFileSync } from 'node:child_process';

/** Pins the main thread to the first CPU it may run on; returns what undoes it. */
export function pinToOneCpu(): () => void {
  const pid = String(process.pid);
  // "pid 123's current affinity list: 0,1" / "0-3"
  const list = execFileSync('taskset', ['-c', '-p', pid], { encoding: 'utf8' }).trim().split(': ').pop() ?? '';
  const first = list.split(/[,-]/)[0];
  if (first === undefined || !/^\d+$/.test(first)) throw new Error(`taskset: no CPU list in ${JSON.stringify(list)}`);
  execFileSync('taskset', ['-c', '-p', first, pid], { stdio: 'ignore' });
  return () => execFileSync('taskset', ['-c', '-p', list, pid], { stdio: 'ignore' });
}
