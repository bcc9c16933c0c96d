#!/usr/bin/env node
/**
 * The package's install step: use the prebuilt addon shipped in prebuilds/<platform>-<arch>/ when
 * it loads on this machine (no compiler needed), else build from source with cmake-js (needs
 * cmake and a C++17 compiler). MULTIVERSE_BUILD_FROM_SOURCE=1 forces the build.
 *
 * Run by `npm install` / `npm ci` as the "install" script; plain JavaScript because it runs before
 * the TypeScript is compiled.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const prebuilt = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'multiverse_native.node');

/** Why the prebuilt addon cannot be used here, or undefined when it loads. */
function prebuiltProblem() {
  if (process.env.MULTIVERSE_BUILD_FROM_SOURCE === '1') return 'MULTIVERSE_BUILD_FROM_SOURCE=1';
  if (!fs.existsSync(prebuilt)) return `no prebuilt addon for ${process.platform}-${process.arch}`;
  try {
    createRequire(import.meta.url)(prebuilt);
    return undefined;
  } catch (e) {
    return `the prebuilt addon does not load here (${e.message.split('\n')[0]})`;
  }
}

const problem = prebuiltProblem();
if (problem === undefined) {
  console.log(`multiverse-rx: using the prebuilt addon ${path.relative(root, prebuilt)}`);
} else {
  console.log(`multiverse-rx: ${problem}; building from source (needs cmake and a C++17 compiler)`);
  const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  const r = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
