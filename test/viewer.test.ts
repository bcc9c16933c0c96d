/**
 * The live viewer in a real browser: playwright-core drives Debian's chromium against
 * createServer with the built viewer, an api key, and the shipped Multiverse model, which plans a
 * two-part sum as a parallel block by itself. A page load without the key gets a key form; with
 * the key, the viewer loads and streams the two paths into labelled columns, closes them with a
 * merge, continues with the conclusion below, and shows # parallel > 1.
 * Keeps a screenshot in test-results/viewer.png.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';
import { createServer, type MultiverseServer } from '../src/server/index.js';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const VIEWER_DIR = path.resolve('viewer');
const SCREENSHOT = path.resolve('test-results/viewer.png');

describe('the live viewer', () => {
  let model: Model;
  let server: MultiverseServer;
  let url: string;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`the viewer test drives Debian's chromium, and ${CHROMIUM} is missing: apt-get install -y chromium`);
    if (!fs.existsSync(path.join(VIEWER_DIR, 'dist', 'viewer', 'src', 'app.js'))) throw new Error('viewer/dist/viewer/src/app.js is missing: run npm run build');
    model = await loadModel('models/multiverse-arith', { kvSlots: 2048, contextLength: 1024 });
    server = createServer(model, { port: 0, apiKey: 'sekret', viewerDir: VIEWER_DIR });
    ({ url } = await server.listen());
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mv-chromium-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: LAUNCH_ARGS, headless: true, viewport: { width: 1100, height: 760 } });
    page = browser.pages()[0] ?? (await browser.newPage());
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await model?.dispose();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  it('asks a browser without the key for it, then opens the viewer', async () => {
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const refused = await page.goto(`${url}/`);
    expect(refused?.status()).toBe(401);
    expect(await page.textContent('#need')).toBe('This server needs an api key.');
    await page.fill('#key', 'sekret');
    await Promise.all([page.waitForURL(/api_key=sekret/), page.click('#go')]);
    // The key came in the URL; the cookie it set lets the page's own scripts and styles load.
    await expect.poll(() => page.textContent('#server')).toBe(`${path.basename(model.info.dir)} · protocol v1`);
    expect(await page.inputValue('#api-key')).toBe('sekret');
    expect(pageErrors).toEqual([]);
  });

  it('streams two paths side by side, merges them, continues with the conclusion, and shows the stats', async () => {
    await page.fill('#prompt', 'Compute 57*8+21*4');
    await page.click('#send');

    const columns = page.locator('.parallel > .columns > .path');
    await columns.nth(1).waitFor();
    await page.waitForSelector('.parallel.merged .merge-bar');
    await page.waitForSelector('.stat[data-stat="parallel"]');

    expect(await columns.count()).toBe(2);
    expect(await columns.locator('.label').allTextContents()).toEqual(['1', '2']);
    expect(await columns.locator('.outline').allTextContents()).toEqual(['57*8', '21*4']);
    expect(await columns.nth(0).locator('.flow').textContent()).toContain('57*8=50*8+7*8=400+56=456');
    expect(await columns.nth(1).locator('.flow').textContent()).toContain('21*4=20*4+1*4=80+4=84');
    expect(await page.locator('.path.ended').count()).toBe(2);
    // The conclusion flows in the root, after the block.
    const afterBlock = await page.locator('#output .root > .parallel ~ .text').allTextContents();
    expect(afterBlock.join('')).toContain(`Answer: ${57 * 8 + 21 * 4}`);

    const stat = (name: string) => page.textContent(`.stat[data-stat="${name}"] .value`);
    expect(Number(await stat('parallel'))).toBeGreaterThan(1);
    expect(await stat('forks')).toBe('1');
    expect(Number(await stat('total-tokens'))).toBeGreaterThan(Number(await stat('critical-path')));
    expect(Number(await stat('tokens-per-second'))).toBeGreaterThan(0);
    expect(await page.locator('#output .error').count()).toBe(0);

    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
