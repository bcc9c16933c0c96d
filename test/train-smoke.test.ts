/**
 * The training recipe still runs end to end at toy scale, for the arithmetic and the Countdown
 * task: data export, a few steps of Multiverse training, the Hugging Face export, and
 * train/selftest.py (the Python layout twin, cached decoding against the full masked forward on
 * nested blocks, safetensors read-back). Needs Debian's python3-torch.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('train/smoke.sh', () => {
  it('prints PASS', () => {
    const r = spawnSync('bash', ['train/smoke.sh'], { encoding: 'utf8', timeout: 300_000 });
    expect(r.stdout + r.stderr).toMatch(/^PASS$/m);
    expect(r.status).toBe(0);
  }, 300_000);
});
