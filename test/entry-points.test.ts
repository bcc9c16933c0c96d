/**
 * The package's entry points as a user imports them (package.json "exports", resolved by name to
 * the built dist/): the library, and the server, client and protocol each on their own sub-path.
 */
import { describe, expect, it } from 'vitest';

const valuesOf = async (specifier: string) => Object.keys(await import(specifier)).sort();

describe('package entry points', () => {
  it('multiverse-rx is the library: loading, operators, remote backends, no server, client or protocol', async () => {
    const names = await valuesOf('multiverse-rx');
    expect(names).toEqual(
      ['GenerationApi', 'GenerationError', 'MULTIVERSE_TAGS', 'Model', 'ModelLoadError', 'OpenAiRemoteModel', 'bestOf', 'loadModel', 'mapBranch', 'mergeBranches', 'reduceBranches', 'remoteModel', 'shippedModelDir', 'stepMs', 'toText', 'vote'].sort(),
    );
  });

  it('multiverse-rx/server, /client and /protocol hold what moved out of it', async () => {
    expect(await valuesOf('multiverse-rx/server')).toEqual(['SERVER_DEFAULTS', 'createServer']);
    expect(await valuesOf('multiverse-rx/client')).toEqual(['connect']);
    expect(await valuesOf('multiverse-rx/protocol')).toEqual(['PROTOCOL_VERSION', 'ProtocolError']);
  });
});
