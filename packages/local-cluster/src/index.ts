/**
 * Placeholder: this package's API lands with its own issue. It builds and publishes nothing yet
 * beyond the protocol version it is wired against.
 */
export { PROTOCOL_VERSION } from '@mesoskit/protocol';
