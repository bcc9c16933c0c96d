/**
 * Installing the package needs no compiler: `npm pack` ships the addon prebuilt for this platform,
 * and a scratch app installs the tarball with cmake and every compiler hidden from PATH (only node,
 * npm and sh are there), then loads the shipped model and runs it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** A PATH holding node, npm and a shell, and nothing that can compile. */
function pathWithoutToolchain(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  for (const tool of ['node', 'npm', 'sh']) {
    const found = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    fs.symlinkSync(fs.realpathSync(found), path.join(bin, tool));
  }
  return bin;
}

describe('install without a toolchain', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-install-'));
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('npm pack ships the prebuilt addon; the tarball installs and runs with no cmake or compiler', () => {
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    const files: string[] = packed[0].files.map((f: { path: string }) => f.path);
    expect(files).toContain(`prebuilds/${process.platform}-${process.arch}/multiverse_native.node`);
    // postpack removed the copy, so it cannot shadow later local builds.
    expect(fs.existsSync('prebuilds')).toBe(false);

    const app = path.join(scratch, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
    const env = { ...process.env, PATH: pathWithoutToolchain(scratch), npm_config_cache: path.join(os.homedir(), '.npm') };
    for (const tool of ['cmake', 'g++', 'c++', 'cc']) expect(spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status).not.toBe(0);

    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(scratch, packed[0].filename)], { cwd: app, env, encoding: 'utf8' });
    expect(install.status, install.stderr).toBe(0);
    // Nothing was compiled (npm 11 may not even run a dependency's install script): the prebuilt is the only addon there.
    const installed = path.join(app, 'node_modules/multiverse-rx');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    expect(fs.existsSync(path.join(installed, `prebuilds/${process.platform}-${process.arch}/multiverse_native.node`))).toBe(true);

    const run = spawnSync(
      'node',
      ['--input-type=module', '-e', "import { loadModel } from 'multiverse-rx'; const m = await loadModel(); const c = await m.complete('Compute 37*4+12*9', { temperature: 0 }); console.log(c.text.split('\\n').at(-1)); await m.dispose();"],
      { cwd: app, env, encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe(`Answer: ${37 * 4 + 12 * 9}`);
  }, 300_000);
});
