#!/usr/bin/env node
/**
 * `npm pack` / `npm publish` (prepack): copies the freshly built addon into
 * prebuilds/<platform>-<arch>/ so installs on the same platform need no compiler; `--clean`
 * (postpack) removes it again, so a stale prebuilt never shadows later local builds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'prebuilds');
if (process.argv.includes('--clean')) {
  fs.rmSync(dir, { recursive: true, force: true });
} else {
  const built = path.join(root, 'build', 'Release', 'multiverse_native.node');
  if (!fs.existsSync(built)) throw new Error(`${built} is missing: run npm run build:native first`);
  const target = path.join(dir, `${process.platform}-${process.arch}`);
  fs.mkdirSync(target, { recursive: true });
  fs.copyFileSync(built, path.join(target, 'multiverse_native.node'));
  console.log(`prebuilt addon: ${path.relative(root, target)}/multiverse_native.node`);
}
