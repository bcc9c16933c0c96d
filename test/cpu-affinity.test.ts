/**
 * Where the engine's threads run (native/common/cpu_affinity.h): with one thread per CPU the
 * process may use (the default), each pool worker keeps to a CPU of its own, and the thread that
 * ran a step (one of Node's libuv workers, borrowed) gets back every CPU it had once the step is
 * over. Read from the kernel's own account of each thread, /proc/self/task/<tid>/status, in a child
 * process, so no other test's threads are counted.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

interface Affinities {
  cpus: string;
  before: string[];
  after: string[];
}

/** Every thread's Cpus_allowed_list before an engine exists and after it has run a step (`npm test` builds dist first). */
function affinitiesInChild(): Affinities {
  const at = (file: string) => JSON.stringify(pathToFileURL(path.resolve('dist/src', file)).href);
  const script = `
    import fs from 'node:fs';
    import os from 'node:os';
    const { loadNative } = await import(${at('native/binding.js')});
    const { openModel } = await import(${at('model/open-model.js')});
    const { writeRandomCheckpoint, TINY } = await import(${at('testkit/random-checkpoint.js')});
    const lists = () => fs.readdirSync('/proc/self/task').map((t) =>
      fs.readFileSync('/proc/self/task/' + t + '/status', 'utf8').match(/Cpus_allowed_list:\\s*(\\S+)/)[1]);
    const dir = fs.mkdtempSync(os.tmpdir() + '/multiverse-affinity-');
    writeRandomCheckpoint(dir, TINY);
    const { checkpoint } = await openModel(dir);
    const before = lists();
    const engine = new (loadNative().Engine)({ ...checkpoint.config, kvSlots: 64, threads: os.availableParallelism(),
      kernels: 'auto', device: 'cpu', kvDtype: 'f32', tensors: checkpoint.tensors });
    const seq = engine.createSequence();
    await engine.step([{ seq, tokens: Int32Array.of(1, 2, 3), positions: Int32Array.of(0, 1, 2), logits: 'last' }]);
    const after = lists();
    fs.rmSync(dir, { recursive: true, force: true });
    process.stdout.write(JSON.stringify({ cpus: before[0], before, after }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.error || r.status !== 0) throw new Error(`the child process failed: ${r.error?.message ?? ''} ${r.stderr}`);
  return JSON.parse(r.stdout) as Affinities;
}

/** "0-2,5" -> [0, 1, 2, 5] (the kernel's list format). */
function cpuList(s: string): number[] {
  return s.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

describe.runIf(fs.existsSync('/proc/self/task'))('engine threads and CPUs', () => {
  it('keeps each pool worker on a CPU of its own and gives the stepping thread its CPUs back', () => {
    const { cpus, before, after } = affinitiesInChild();
    const allowed = cpuList(cpus);
    const single = (lists: string[]) => lists.filter((l) => cpuList(l).length === 1 && allowed.length > 1).map((l) => cpuList(l)[0]);
    // New single-CPU threads: the workers, on every allowed CPU but the first (the caller's), once each.
    const pinned = single(after);
    for (const cpu of single(before)) {
      const at = pinned.indexOf(cpu);
      if (at >= 0) pinned.splice(at, 1);  // a thread pinned before the engine, gone since, takes none away
    }
    expect(pinned.sort((a, b) => a - b)).toEqual(allowed.slice(1));
    // Every other thread, the one that ran the step included, still has every CPU.
    expect(after.filter((l) => cpuList(l).length > 1).every((l) => l === cpus)).toBe(true);
    expect(after.length - pinned.length).toBeGreaterThanOrEqual(before.length);
  });
});
