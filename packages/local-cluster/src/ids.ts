/**
 * Ids the way Mesos makes and checks them (§0): a random UUID per master; frameworks
 * `<masterId>-NNNN`, agents `<masterId>-S<n>`, offers `<masterId>-O<n>`; stream and container
 * ids are random UUIDs.
 */
import { randomUUID } from 'node:crypto';

export class IdGenerator {
  readonly masterId: string;
  #frameworks = 0;
  #agents = 0;
  #offers = 0;

  constructor(masterId: string = randomUUID()) {
    this.masterId = masterId;
  }

  framework(): string {
    return `${this.masterId}-${String(this.#frameworks++).padStart(4, '0')}`;
  }

  agent(): string {
    return `${this.masterId}-S${this.#agents++}`;
  }

  offer(): string {
    return `${this.masterId}-O${this.#offers++}`;
  }
}

/** A fresh `Mesos-Stream-Id` or container id. */
export function randomId(): string {
  return randomUUID();
}

const MAX_ID_BYTES = 255;

/**
 * Mesos' validation of a TaskID, ExecutorID, FrameworkID or AgentID value; returns the error
 * text Mesos uses, or `undefined` when valid.
 */
export function validateId(id: string): string | undefined {
  if (id.length === 0) return 'ID must not be empty';
  if (Buffer.byteLength(id) > MAX_ID_BYTES) return `ID must not be greater than ${MAX_ID_BYTES} characters`;
  if (id === '.' || id === '..') return `'${id}' is disallowed`;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x2f /* / */ || c === 0x5c /* \ */) {
      return `'${id}' contains invalid characters`;
    }
  }
  return undefined;
}

/** A random RFC 4122 version-4 UUID as 16 bytes (status update uuids). */
export function randomUuidBytes(): Uint8Array {
  const hex = randomUUID().replaceAll('-', '');
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * True for 16 bytes whose version nibble is a known UUID version (1–5), which is all Mesos
 * checks of a status update or acknowledgement uuid (`Not a valid UUID` otherwise).
 */
export function isValidUuidBytes(bytes: Uint8Array | undefined): boolean {
  if (bytes?.length !== 16) return false;
  const version = bytes[6]! >> 4;
  return version >= 1 && version <= 5;
}

/** A uuid's bytes in hex (read in place, not copied); `''` for none. */
export function uuidHex(bytes: Uint8Array | undefined): string {
  return bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex') : '';
}
