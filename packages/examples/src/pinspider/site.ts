/**
 * The small website pinspider crawls, served by the demo itself with `node:http`: a few users,
 * each with a profile page (`/<user>`) linking to board pages (`/<user>/boards/<slug>`). The
 * HTML is deterministic, so the demo's findings are too. Anything else is a 404 (which is how
 * `--fail-one` makes a task fail).
 *
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SiteBoard {
  slug: string;
  title: string;
  pins: string[];
}

export interface SiteUser {
  login: string;
  name: string;
  followers: number;
  boards: SiteBoard[];
}

export const USERS: readonly SiteUser[] = [
  {
    login: 'ada',
    name: 'Ada Lovelace',
    followers: 1815,
    boards: [
      {
        slug: 'engines',
        title: 'Analytical Engines',
        pins: ['Difference Engine No. 1', 'Analytical Engine mill', 'Punched cards'],
      },
      { slug: 'notes', title: 'Notes on Menabrea', pins: ['Note G', 'Bernoulli numbers'] },
    ],
  },
  {
    login: 'grace',
    name: 'Grace Hopper',
    followers: 1906,
    boards: [
      { slug: 'compilers', title: 'Compilers', pins: ['A-0', 'FLOW-MATIC', 'COBOL', 'Harvard Mark I'] },
      { slug: 'bugs', title: 'Bugs', pins: ['The first actual bug'] },
    ],
  },
  {
    login: 'edsger',
    name: 'Edsger Dijkstra',
    followers: 1930,
    boards: [
      { slug: 'paths', title: 'Shortest Paths', pins: ['Graph of Dutch cities', 'Priority queue'] },
      { slug: 'ewd', title: 'EWD Manuscripts', pins: ['EWD215', 'EWD340', 'EWD1036'] },
    ],
  },
];

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

export function profilePage(user: SiteUser): string {
  const boards = user.boards
    .map(
      (b) =>
        `    <li><a class="board" href="/${user.login}/boards/${b.slug}">${escapeHtml(b.title)}</a></li>`,
    )
    .join('\n');
  return `<!doctype html>
<html>
  <head><title>${escapeHtml(user.name)} (@${user.login})</title></head>
  <body>
    <h1 class="name">${escapeHtml(user.name)}</h1>
    <p><span class="followers">${user.followers}</span> followers</p>
    <ul class="boards">
${boards}
    </ul>
  </body>
</html>
`;
}

export function boardPage(user: SiteUser, board: SiteBoard): string {
  const pins = board.pins.map((p) => `    <li class="pin">${escapeHtml(p)}</li>`).join('\n');
  return `<!doctype html>
<html>
  <head><title>${escapeHtml(board.title)} by ${escapeHtml(user.name)}</title></head>
  <body>
    <h1 class="board-title">${escapeHtml(board.title)}</h1>
    <ul class="pins">
${pins}
    </ul>
  </body>
</html>
`;
}

export interface Site {
  /** The base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** The profile page URL of a user (served or not). */
  profileUrl(login: string): string;
  close(): Promise<void>;
}

/**
 * Serves the site on `host` (loopback by default) on a port the OS picks. `advertise` is the
 * host name put into URLs, for agents on other machines (default: `host`).
 */
export async function startSite(
  options: { host?: string; advertise?: string; users?: readonly SiteUser[] } = {},
): Promise<Site> {
  const host = options.host ?? '127.0.0.1';
  const users = new Map((options.users ?? USERS).map((u) => [u.login, u]));
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://site').pathname;
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const user = users.get(parts[0] ?? '');
    let html: string | undefined;
    if (user !== undefined && parts.length === 1) html = profilePage(user);
    if (user !== undefined && parts.length === 3 && parts[1] === 'boards') {
      const board = user.boards.find((b) => b.slug === parts[2]);
      if (board !== undefined) html = boardPage(user, board);
    }
    if (req.method !== 'GET' || html === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const advertised = options.advertise ?? host;
  const url = `http://${advertised.includes(':') ? `[${advertised}]` : advertised}:${port}`;
  return {
    url,
    profileUrl: (login) => `${url}/${encodeURIComponent(login)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
