import { Field, ObjectType } from 'type-graphql';
import { NonNegativeIntResolver } from 'graphql-scalars';
import { Connection } from '../graphql/connection';
import { Message } from './message.type';
import { HIGHLIGHT_START, HIGHLIGHT_STOP, type MessageSearchRow } from './message-search.repository';

/** Most characters of message text a highlight shows (markup and escapes not counted). */
export const MAX_HIGHLIGHT_TEXT = 400;

/** One message that matched a search. */
@ObjectType({ simpleResolvers: true, description: 'A message that matched a search, with the matched words marked.' })
export class MessageSearchHit {
  /** The session's database key, for the `session` field. */
  sessionKey!: string;

  @Field(() => Message, { description: 'The message.' })
  message!: Message;

  @Field({
    description:
      `An excerpt of the message with the matched words marked, safe to insert as HTML: the text is HTML-escaped (& < > " ' as entities) and each matched word is wrapped in <mark>…</mark>, the only markup. ` +
      `One excerpt of about 15–35 words around the best match (a shorter message whole), at most ${MAX_HIGHLIGHT_TEXT} characters of text (then cut with "…").`,
  })
  highlight!: string;

  /** Maps a repository row to its GraphQL object. */
  static fromRow(row: MessageSearchRow): MessageSearchHit {
    const hit = new MessageSearchHit();
    hit.sessionKey = row.message.sessionId;
    hit.message = Message.fromRow(row.message);
    hit.highlight = renderHighlight(row.highlight);
    return hit;
  }
}

@ObjectType({ simpleResolvers: true, description: 'A page of message search hits.' })
export class MessageSearchHitConnection extends Connection(MessageSearchHit, 'message search hit') {
  // Not simple: promises, as the base class's totalCount (counted only when one of the two is selected).
  @Field(() => NonNegativeIntResolver, {
    simple: false,
    description:
      "Number of matching messages, counted up to the server's SEARCH_COUNT_LIMIT (10,000 by default): when more match, this is that limit, a lower bound, and `totalCountIsExact` is false.",
  })
  override totalCount!: Promise<number>;

  @Field(() => Boolean, {
    simple: false,
    description:
      'True when `totalCount` is the exact number of matching messages; false when more messages match than the server counts (SEARCH_COUNT_LIMIT), so `totalCount` is a lower bound ("10,000+").',
  })
  totalCountIsExact!: Promise<boolean>;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Turns ts_headline's output (plain text, matches between HIGHLIGHT_START and HIGHLIGHT_STOP, which the content
 * cannot hold) into escaped HTML with <mark> elements, cut at MAX_HIGHLIGHT_TEXT characters of text with any open
 * <mark> closed, so the result is always well-formed.
 */
export function renderHighlight(raw: string): string {
  let html = '';
  let length = 0;
  let marked = false;
  for (const character of raw) {
    if (character === HIGHLIGHT_START) {
      if (!marked) html += '<mark>';
      marked = true;
    } else if (character === HIGHLIGHT_STOP) {
      if (marked) html += '</mark>';
      marked = false;
    } else {
      if (length === MAX_HIGHLIGHT_TEXT) {
        html += marked ? '</mark>…' : '…';
        return html;
      }
      html += ESCAPES[character] ?? character;
      length++;
    }
  }
  return marked ? `${html}</mark>` : html;
}
