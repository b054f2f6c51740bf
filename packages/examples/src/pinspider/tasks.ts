/**
 * pinspider's two tasks: the only module both the scheduler (`main.ts`) and the executors
 * (`handlers.ts`) import. It imports nothing heavy, so the scheduler never loads handler code.
 *
 * @module
 */
import { defineTask } from '@mesoskit/protocol';

/** A board a profile page links to. */
export interface BoardLink {
  /** The board's slug, e.g. `engines`. */
  slug: string;
  title: string;
  /** The board page's absolute URL. */
  url: string;
}

/** What crawling a profile page finds; sent as a framework message and returned as the result. */
export interface ProfileFinding {
  kind: 'profile';
  user: string;
  name: string;
  followers: number;
  boards: BoardLink[];
}

/** What crawling a board page finds; sent as a framework message and returned as the result. */
export interface BoardFinding {
  kind: 'board';
  user: string;
  board: string;
  title: string;
  pins: string[];
}

export type Finding = ProfileFinding | BoardFinding;

/** Crawls a user's profile page: name, followers and the boards it links to. */
export const crawlProfile = defineTask<{ user: string; url: string }, ProfileFinding>('pinspider.profile', {
  resources: { cpus: 0.1, memMb: 32 },
});

/** Crawls one board page: its title and pins. */
export const crawlBoard = defineTask<{ user: string; board: string; url: string }, BoardFinding>(
  'pinspider.board',
  { resources: { cpus: 0.1, memMb: 32 } },
);

/** True for a value shaped like a {@link Finding} (what arrives in messages is unchecked data). */
export function isFinding(value: unknown): value is Finding {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  if (v.kind === 'profile') {
    return (
      typeof v.user === 'string' &&
      typeof v.name === 'string' &&
      typeof v.followers === 'number' &&
      Array.isArray(v.boards)
    );
  }
  if (v.kind === 'board') {
    return (
      typeof v.user === 'string' &&
      typeof v.board === 'string' &&
      typeof v.title === 'string' &&
      Array.isArray(v.pins)
    );
  }
  return false;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One line for a finding, as the scheduler prints it. */
export function formatFinding(f: Finding): string {
  if (f.kind === 'profile') {
    const boards = f.boards.map((b) => b.slug).join(', ');
    return `profile ${f.user}: ${f.name}, ${plural(f.followers, 'follower')}, ${plural(f.boards.length, 'board')} (${boards})`;
  }
  return `board   ${f.user}/${f.board}: "${f.title}", ${plural(f.pins.length, 'pin')}`;
}
