/**
 * The viewer page: a prompt form whose submit streams one generation over WebSocket protocol v1
 * into the multiverse view, with live and final stats; Stop cancels it. The api key field, for a
 * server started with --api-key, starts from the page's own `?api_key=` when there is one.
 */
import type { WireGenerateOptions } from '../../src/protocol/index.js';
import { Connection } from './connection.js';
import { byId } from './dom.js';
import { MultiverseView } from './multiverse-view.js';
import { StatsPanel } from './stats.js';

const form = byId<HTMLFormElement>('prompt-form');
const prompt = byId<HTMLTextAreaElement>('prompt');
const maxTokens = byId<HTMLInputElement>('max-tokens');
const temperature = byId<HTMLInputElement>('temperature');
const apiKey = byId<HTMLInputElement>('api-key');
const send = byId<HTMLButtonElement>('send');
const stop = byId<HTMLButtonElement>('stop');
const serverLine = byId('server');
const output = byId('output');
const stats = new StatsPanel(byId('stats'));
const connection = new Connection();
let nextId = 1;
let running: number | undefined;

apiKey.value = new URLSearchParams(location.search).get('api_key') ?? '';
void describeServer();

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void generate();
});
stop.addEventListener('click', () => {
  if (running !== undefined) connection.cancel(running);
});
apiKey.addEventListener('change', () => void describeServer());
prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) form.requestSubmit();
});

async function generate(): Promise<void> {
  const id = nextId++;
  const view = new MultiverseView(output);
  const started = performance.now();
  let tokens = 0;
  setRunning(id);
  stats.progress(0, 0, 0);
  try {
    await connection.request({ type: 'generate', id, input: prompt.value, options: readOptions() }, apiKey.value.trim(), (event) => {
      view.apply(event);
      const ms = performance.now() - started;
      if (event.type === 'token') tokens += 'tokenIds' in event ? event.tokenIds.length : 1;
      if (event.type === 'done') stats.done(event, ms);
      else if (event.type === 'error') stats.clear();
      else stats.progress(tokens, view.livePaths, ms);
    });
  } catch (err) {
    view.error((err as Error).message);
    stats.clear();
  }
  setRunning(undefined);
}

/** The form's options; an empty field keeps the server's default. */
function readOptions(): WireGenerateOptions {
  const options: WireGenerateOptions = {};
  if (maxTokens.value !== '') options.maxTokens = maxTokens.valueAsNumber;
  if (temperature.value !== '') options.temperature = temperature.valueAsNumber;
  return options;
}

function setRunning(id: number | undefined): void {
  running = id;
  send.disabled = id !== undefined;
  stop.disabled = id === undefined;
  document.body.classList.toggle('running', id !== undefined);
}

/** The served model's name from /health, or why it cannot be had (an api key is needed). */
async function describeServer(): Promise<void> {
  const key = apiKey.value.trim();
  try {
    const res = await fetch('/health', { headers: key ? { authorization: `Bearer ${key}` } : {} });
    if (res.status === 401) {
      serverLine.textContent = key ? 'wrong api key' : 'this server needs an api key';
      serverLine.className = 'warn';
      return;
    }
    const health = (await res.json()) as { model: string; protocol: number };
    serverLine.textContent = `${health.model} · protocol v${health.protocol}`;
    serverLine.className = '';
  } catch {
    serverLine.textContent = 'server unreachable';
    serverLine.className = 'warn';
  }
}
