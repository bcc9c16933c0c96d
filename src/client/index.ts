/**
 * `multiverse-rx/client`: the same generation events from a `multiverse serve` in another process,
 * over WebSocket protocol v1.
 *
 * @example
 * ```ts
 * import { connect } from 'multiverse-rx/client';
 *
 * const connection = await connect('ws://127.0.0.1:8080/v1/ws'); // a server's wsUrl
 * connection.events('Compute 17*3', { temperature: 0 }).subscribe((e) => console.log(e.type));
 * ```
 * @packageDocumentation
 */
export { connect, type ConnectOptions, type MultiverseConnection } from './connect.js';
