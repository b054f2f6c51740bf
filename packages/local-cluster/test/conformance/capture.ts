/**
 * Reading the real-Mesos captures: request files, response heads and bodies, RecordIO streams
 * and `timeline.txt`. Files come from `./fixtures/<scenario>/` (what only this package needs)
 * or, when not there, from the protocol package's copy of the same captures.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecordIODecoder } from '@mesoskit/protocol';

const LOCAL = fileURLToPath(new URL('./fixtures/', import.meta.url));
const PROTOCOL = fileURLToPath(new URL('../../../protocol/test/fixtures/real-mesos/', import.meta.url));

export function fixturePath(scenario: string, file: string): string {
  for (const root of [LOCAL, PROTOCOL]) {
    const p = join(root, scenario, file);
    if (existsSync(p)) return p;
  }
  throw new Error(`capture file ${scenario}/${file} not found in ${LOCAL} or ${PROTOCOL}`);
}

export function hasFixture(scenario: string, file: string): boolean {
  return [LOCAL, PROTOCOL].some((root) => existsSync(join(root, scenario, file)));
}

export interface CapturedRequest {
  method: string;
  path: string;
  headers: [string, string][];
  body_text_or_json?: unknown;
  body_base64?: string | null;
}

export function readRequest(scenario: string, name: string): CapturedRequest {
  return JSON.parse(readFileSync(fixturePath(scenario, `${name}.request.json`), 'utf8')) as CapturedRequest;
}

/** The request body's bytes, exactly as sent. */
export function requestBody(req: CapturedRequest): Buffer {
  if (req.body_base64) return Buffer.from(req.body_base64, 'base64');
  if (req.body_text_or_json === undefined || req.body_text_or_json === null) return Buffer.alloc(0);
  if (typeof req.body_text_or_json === 'string') return Buffer.from(req.body_text_or_json);
  return Buffer.from(JSON.stringify(req.body_text_or_json));
}

export interface CapturedHead {
  status: number;
  /** Header names lower-cased; values as received. */
  headers: Record<string, string>;
}

export function readHead(scenario: string, name: string): CapturedHead {
  const text = readFileSync(fixturePath(scenario, `${name}.response.head.txt`), 'latin1');
  const [statusLine, ...lines] = text.split('\r\n');
  const status = Number(statusLine!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers };
}

export function readBody(scenario: string, name: string): Buffer {
  const file = `${name}.response.body.bin`;
  return hasFixture(scenario, file) ? readFileSync(fixturePath(scenario, file)) : Buffer.alloc(0);
}

/** The RecordIO records of a captured stream. */
export function readRecords(scenario: string, name: string): Uint8Array[] {
  const bytes = readFileSync(fixturePath(scenario, `${name}.stream.bin`));
  return new RecordIODecoder().push(bytes);
}

/** One line of `timeline.txt`: a request (`label: POST …`) or a stream event (`label event #n TYPE`). */
export type TimelineEntry =
  | { kind: 'request'; t: number; label: string; line: string }
  | { kind: 'event'; t: number; stream: string; index: number; type: string; line: string };

export function readTimeline(scenario: string): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  for (const line of readFileSync(fixturePath(scenario, 'timeline.txt'), 'utf8').split('\n')) {
    const t = Number(/^\+([\d.]+)s /.exec(line)?.[1] ?? Number.NaN);
    const ev = /^\+[\d.]+s (\S+) event #(\d+) (\S+)/.exec(line);
    if (ev) {
      out.push({ kind: 'event', t, stream: ev[1]!, index: Number(ev[2]), type: ev[3]!, line });
      continue;
    }
    const req = /^\+[\d.]+s (\S+): (POST|GET) /.exec(line);
    if (req) out.push({ kind: 'request', t, label: req[1]!, line });
  }
  return out;
}

/** The scenario's top-level request files, in the order they were sent (`NN-name`, no suffix). */
export function requestNames(scenario: string): string[] {
  const names = new Set<string>();
  for (const root of [LOCAL, PROTOCOL]) {
    const dir = join(root, scenario);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir))
      if (f.endsWith('.request.json')) names.add(f.replace('.request.json', ''));
  }
  return [...names].sort();
}
