/**
 * This process's memory mappings of one file, as the kernel records them in /proc/self/smaps:
 * where each starts, its VmFlags (`hg`: advised for huge pages), and how much of it is resident and
 * how much of that is mapped as 2 MB pages. Linux only; elsewhere there are none.
 */
import fs from 'node:fs';

export interface FileMapping {
  start: bigint;
  flags: string[];
  residentBytes: number;
  hugePageBytes: number;
}

export function fileMappings(file: string): FileMapping[] {
  let smaps: string;
  try {
    smaps = fs.readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return [];
  }
  const found: FileMapping[] = [];
  let current: FileMapping | undefined;
  const kilobytes = (line: string) => Number(line.split(/\s+/)[1]) * 1024;
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ \S+\s+(.*)$/.exec(line);
    if (head) {
      current = head[2] === file ? { start: BigInt(`0x${head[1]}`), flags: [], residentBytes: 0, hugePageBytes: 0 } : undefined;
      if (current) found.push(current);
    } else if (current) {
      if (line.startsWith('VmFlags:')) current.flags = line.slice('VmFlags:'.length).trim().split(/\s+/);
      else if (line.startsWith('Rss:')) current.residentBytes = kilobytes(line);
      else if (line.startsWith('FilePmdMapped:')) current.hugePageBytes = kilobytes(line);
    }
  }
  return found;
}
