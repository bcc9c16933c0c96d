/** One line describing where a benchmark ran, printed above every table. */
import os from 'node:os';
import { loadNative } from '../native/binding.js';

export function machineLine(): string {
  const f = loadNative().cpuFeatures();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const features = [f.avx512 ? 'AVX-512' : '', f.avx2Fma ? 'AVX2/FMA' : 'no AVX2', f.f16c ? 'F16C' : ''].filter(Boolean).join(', ');
  return `${cpu}, ${os.availableParallelism()} cores (${features}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()}-${os.arch()}`;
}
