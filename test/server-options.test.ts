/** createServer's configuration: defaults in one place, and each broken rule named in the error. */
import { describe, expect, it } from 'vitest';
import { resolveServerOptions, SERVER_DEFAULTS } from '../src/server/options.js';

const model = { info: { dir: '/models/tiny-qwen', contextLength: 512 } } as Parameters<typeof resolveServerOptions>[0];

describe('server options', () => {
  it('fills the defaults: loopback, port 8080, the folder name as model id, no key, no other origin, maxTokens up to the context', () => {
    const o = resolveServerOptions(model, {});
    expect(o).toMatchObject({ ...SERVER_DEFAULTS, modelId: 'tiny-qwen', maxTokens: 512 });
    expect(o.allowOrigins).toEqual([]);
    expect(o.host).toBe('127.0.0.1');
    expect(o.apiKey).toBeUndefined();
    expect(resolveServerOptions(model, { port: undefined }).port).toBe(8080);
  });

  it.each([
    [{ port: 70000 }, 'port must be an integer 0..65535, got 70000'],
    [{ apiKey: '' }, 'apiKey must be a non-empty string when set'],
    [{ maxChoices: 0 }, 'maxChoices must be an integer >= 1, got 0'],
    [{ maxMessageBytes: 1000, maxPayload: 10 }, 'maxPayload must be an integer >= maxMessageBytes (1000), got 10'],
    [{ coalesceAboveBytes: 100, maxQueuedBytes: 50 }, 'maxQueuedBytes must be an integer >= coalesceAboveBytes (100), got 50'],
    [{ heartbeatMs: -1 }, 'heartbeatMs must be an integer >= 0, got -1'],
    [{ maxTokens: 0 }, 'maxTokens must be an integer >= 1, got 0'],
    [{ maxDepth: 1.5 }, 'maxDepth must be an integer >= 0, got 1.5'],
    [{ allowOrigins: 'https://app.example' as unknown as string[] }, 'allowOrigins must be an array of origins, got "https://app.example"'],
    [{ allowOrigins: ['https://app.example/'] }, 'allowOrigins must be origins like https://app.example:8443 (scheme, host, optional port; nothing after), got "https://app.example/"'],
    [{ allowOrigins: ['app.example'] }, 'allowOrigins must be origins like https://app.example:8443 (scheme, host, optional port; nothing after), got "app.example"'],
  ])('rejects %j', (options, rule) => {
    expect(() => resolveServerOptions(model, options)).toThrow(new TypeError(`createServer: ${rule}`));
  });
});
