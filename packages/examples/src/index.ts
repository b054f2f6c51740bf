import { PROTOCOL_VERSION } from '@mesoskit/protocol';

// The demos (hello, pinspider, pi) land with the examples issue; until then `pnpm demo`
// builds every package and says so.
console.log(`mesoskit is built (wire protocol v${PROTOCOL_VERSION}); the demos are not written yet.`);
