/**
 * pinspider's handlers, loaded on the agents by `mesoskit-executor --handlers <this module>`
 * (both the profile and the board executor run this module). Each handler fetches its page,
 * parses it, sends its finding as a framework message (best effort: the scheduler prints it
 * as it arrives) and returns the same finding as its result (reliable: it travels in the
 * terminal status update).
 *
 * @module
 */
import { handle, handlers, NonRetryableError } from '@mesoskit/executor';
import { type BoardFinding, crawlBoard, crawlProfile, type ProfileFinding } from './tasks.js';

async function fetchPage(url: string, signal: AbortSignal): Promise<string> {
  const res = await fetch(url, { signal });
  const body = await res.text();
  if (!res.ok) {
    // A missing page will not appear on a retry.
    throw new NonRetryableError(`GET ${url} answered ${res.status} ${res.statusText}`, {
      code: `HTTP_${res.status}`,
    });
  }
  return body;
}

function unescapeHtml(text: string): string {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
}

function one(html: string, pattern: RegExp, what: string, url: string): string {
  const match = pattern.exec(html);
  if (match?.[1] === undefined) {
    throw new NonRetryableError(`no ${what} on ${url}`, { code: 'PARSE_ERROR' });
  }
  return unescapeHtml(match[1]);
}

export function parseProfile(html: string, user: string, url: string): ProfileFinding {
  const name = one(html, /<h1 class="name">([^<]*)<\/h1>/, 'name', url);
  const followers = Number(one(html, /<span class="followers">(\d+)<\/span>/, 'follower count', url));
  const boards = [...html.matchAll(/<a class="board" href="([^"]+)">([^<]*)<\/a>/g)].map((m) => {
    const href = new URL(m[1]!, url).href;
    return { slug: href.slice(href.lastIndexOf('/') + 1), title: unescapeHtml(m[2]!), url: href };
  });
  return { kind: 'profile', user, name, followers, boards };
}

export function parseBoard(html: string, user: string, board: string, url: string): BoardFinding {
  const title = one(html, /<h1 class="board-title">([^<]*)<\/h1>/, 'board title', url);
  const pins = [...html.matchAll(/<li class="pin">([^<]*)<\/li>/g)].map((m) => unescapeHtml(m[1]!));
  return { kind: 'board', user, board, title, pins };
}

/** Fetches a profile page, sends what it found, and returns it. */
export const profileHandler = handle(crawlProfile, async ({ user, url }, ctx) => {
  const finding = parseProfile(await fetchPage(url, ctx.signal), user, url);
  ctx.send(finding); // best effort: the scheduler prints it as it arrives
  ctx.log.info('profile crawled', { user, boards: finding.boards.length });
  return finding; // reliable: in the terminal status update
});

/** Fetches a board page, sends what it found, and returns it. */
export const boardHandler = handle(crawlBoard, async ({ user, board, url }, ctx) => {
  const finding = parseBoard(await fetchPage(url, ctx.signal), user, board, url);
  ctx.send(finding);
  ctx.log.info('board crawled', { user, board, pins: finding.pins.length });
  return finding;
});

export default handlers(profileHandler, boardHandler);
