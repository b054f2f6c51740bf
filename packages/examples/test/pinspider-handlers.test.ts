/** pinspider's page parsers against the site's own pages, and the handlers through runHandler. */
import { NonRetryableError } from '@mesoskit/executor';
import { runHandler } from '@mesoskit/executor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boardHandler, parseBoard, parseProfile, profileHandler } from '../src/pinspider/handlers.js';
import { boardPage, profilePage, type Site, startSite, USERS } from '../src/pinspider/site.js';

const ada = USERS[0]!;

describe('pinspider parsers', () => {
  it('reads a profile page', () => {
    expect(parseProfile(profilePage(ada), 'ada', 'http://site/ada')).toEqual({
      kind: 'profile',
      user: 'ada',
      name: 'Ada Lovelace',
      followers: 1815,
      boards: [
        { slug: 'engines', title: 'Analytical Engines', url: 'http://site/ada/boards/engines' },
        { slug: 'notes', title: 'Notes on Menabrea', url: 'http://site/ada/boards/notes' },
      ],
    });
  });

  it('reads a board page, unescaping HTML', () => {
    const board = { slug: 'x', title: 'Fish & <Chips>', pins: ['"quoted"', "it's"] };
    expect(parseBoard(boardPage(ada, board), 'ada', 'x', 'http://site/ada/boards/x')).toEqual({
      kind: 'board',
      user: 'ada',
      board: 'x',
      title: 'Fish & <Chips>',
      pins: ['"quoted"', "it's"],
    });
  });
});

describe('pinspider handlers', () => {
  let site: Site;
  beforeAll(async () => {
    site = await startSite();
  });
  afterAll(async () => {
    await site?.close();
  });

  it('a profile crawl sends its finding and returns it', async () => {
    const sent: unknown[] = [];
    const out = await runHandler(
      profileHandler,
      { user: 'grace', url: site.profileUrl('grace') },
      { onSend: (m: unknown) => sent.push(m) },
    );
    expect(out).toMatchObject({ kind: 'profile', name: 'Grace Hopper', followers: 1906 });
    expect(sent).toEqual([out]);
  });

  it('a board crawl returns the pins', async () => {
    const out = await runHandler(boardHandler, {
      user: 'edsger',
      board: 'ewd',
      url: `${site.url}/edsger/boards/ewd`,
    });
    expect(out).toMatchObject({
      kind: 'board',
      title: 'EWD Manuscripts',
      pins: ['EWD215', 'EWD340', 'EWD1036'],
    });
  });

  it('a missing page is a non-retryable HTTP_404', async () => {
    const run = runHandler(profileHandler, { user: 'ghost', url: site.profileUrl('ghost') });
    await expect(run).rejects.toBeInstanceOf(NonRetryableError);
    await expect(run).rejects.toMatchObject({ code: 'HTTP_404' });
  });
});
