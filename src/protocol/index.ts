/**
 * `multiverse-rx/protocol`: the message and event shapes of WebSocket protocol v1
 * (docs/protocol.md), for clients written without `multiverse-rx/client`.
 *
 * @packageDocumentation
 */
export {
  PROTOCOL_VERSION,
  ProtocolError,
  type ProtocolErrorCode,
  type WireErrorCode,
  type RequestId,
  type ClientMessage,
  type GenerateMessage,
  type CancelMessage,
  type WireGenerateOptions,
  type ServerEvent,
  type WireTokenEvent,
  type WireTokensEvent,
  type WireForkEvent,
  type WireJoinEvent,
  type WireDoneEvent,
  type WireErrorEvent,
} from './messages.js';
