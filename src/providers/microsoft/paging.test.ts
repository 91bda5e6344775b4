import { describe, expect, it } from 'vitest';
import { BadUserInputError } from '../../errors.js';
import { graphListUrl, readNextLink, skipParameter } from './paging.js';

// A nextLink is read, never fetched: only its $skip/$skiptoken survives, and only when the link
// lies under the configured Graph base URL; the next request is rebuilt from that base.

const GRAPH = 'https://graph.microsoft.com/v1.0';

describe('readNextLink', () => {
  it('ends the listing when there is no nextLink', () => {
    expect(readNextLink(undefined, GRAPH)).toEqual({ kind: 'end' });
    expect(readNextLink(null, GRAPH)).toEqual({ kind: 'end' });
  });

  it('keeps only the $skip or $skiptoken of a link under the base URL', () => {
    expect(readNextLink(`${GRAPH}/me/events?$select=id,subject&$top=5&$skip=10`, GRAPH)).toEqual({ kind: 'next', token: '$skip=10' });
    expect(readNextLink(`${GRAPH}/me/messages?%24top=10&%24skiptoken=MSZZVlhOcVV3`, GRAPH)).toEqual({ kind: 'next', token: '$skiptoken=MSZZVlhOcVV3' });
    // Both present: the opaque token is Graph's own position and wins.
    expect(readNextLink(`${GRAPH}/me/drive/root/children?$skip=3&$skiptoken=abc`, GRAPH)).toEqual({ kind: 'next', token: '$skiptoken=abc' });
  });

  it('refuses a link on another origin, naming it without its query', () => {
    for (const link of [
      'https://evil.example/v1.0/me/messages?$skiptoken=abc',
      'http://graph.microsoft.com/v1.0/me/messages?$skiptoken=abc',
      'https://graph.microsoft.com:8443/v1.0/me/messages?$skiptoken=abc',
      'https://graph.microsoft.com.evil.example/v1.0/me/messages?$skiptoken=abc',
    ]) {
      const read = readNextLink(link, GRAPH);
      expect(read, link).toMatchObject({ kind: 'refused', reason: 'outside_graph_url' });
      expect(read.kind === 'refused' && read.where, link).not.toContain('abc');
    }
  });

  it('refuses a link on the same origin outside the base path', () => {
    for (const link of [
      `https://graph.microsoft.com/beta/me/messages?$skip=1`,
      `https://graph.microsoft.com/v1.0x/me?$skip=1`,
      `https://graph.microsoft.com/v1.0?$skip=1`,
    ]) {
      expect(readNextLink(link, GRAPH), link).toMatchObject({ kind: 'refused', reason: 'outside_graph_url' });
    }
    expect(readNextLink('https://user:pw@graph.microsoft.com/v1.0/me/messages?$skip=1', GRAPH)).toMatchObject({ kind: 'refused' });
  });

  it('refuses a link under the base without a usable skip value', () => {
    expect(readNextLink(`${GRAPH}/me/messages?$top=10`, GRAPH)).toEqual({ kind: 'refused', where: `${GRAPH}/me/messages`, reason: 'no_skip_token' });
    expect(readNextLink(`${GRAPH}/me/events?$skip=-1`, GRAPH)).toMatchObject({ kind: 'refused', reason: 'no_skip_token' });
    expect(readNextLink(`${GRAPH}/me/events?$skip=ten`, GRAPH)).toMatchObject({ kind: 'refused', reason: 'no_skip_token' });
  });

  it('refuses what is not a URL', () => {
    for (const link of ['/v1.0/me/messages?$skip=10', 42, {}, 'not a url']) {
      expect(readNextLink(link, GRAPH)).toMatchObject({ kind: 'refused' });
    }
  });

  it('works with a base URL on loopback with a port (the sandbox)', () => {
    expect(readNextLink('http://127.0.0.1:4010/v1.0/me/events?$skip=5', 'http://127.0.0.1:4010/v1.0')).toEqual({ kind: 'next', token: '$skip=5' });
    expect(readNextLink('http://127.0.0.1:4011/v1.0/me/events?$skip=5', 'http://127.0.0.1:4010/v1.0')).toMatchObject({ kind: 'refused' });
  });
});

describe('skipParameter', () => {
  it('reads the tokens readNextLink makes', () => {
    expect(skipParameter('$skip=10')).toEqual(['$skip', '10']);
    expect(skipParameter('$skiptoken=a=b&c')).toEqual(['$skiptoken', 'a=b&c']);
  });

  it('refuses anything else as the caller’s error', () => {
    for (const token of [
      '',
      'skip=10',
      '$skip=',
      '$skip=1.5',
      '$skip=-2',
      '$top=5',
      '$skiptoken=',
      `$skiptoken=${'x'.repeat(5000)}`,
      '$skiptoken=a\nb',
      'https://evil.example/',
    ]) {
      expect(() => skipParameter(token), token).toThrow(BadUserInputError);
    }
  });
});

describe('graphListUrl', () => {
  it('builds the page from the base URL, fixed path, $select, $top and the token', () => {
    expect(graphListUrl(GRAPH, '/me/events', ['id', 'subject'], 5)).toBe(`${GRAPH}/me/events?$select=id%2Csubject&$top=5`);
    expect(graphListUrl(GRAPH, '/me/events', ['id'], 5, '$skip=10')).toBe(`${GRAPH}/me/events?$select=id&$top=5&$skip=10`);
    expect(graphListUrl(GRAPH, '/me/messages', ['id'], 10, '$skiptoken=a&b=c/d')).toBe(`${GRAPH}/me/messages?$select=id&$top=10&$skiptoken=a%26b%3Dc%2Fd`);
  });

  it('refuses a forged token before any URL is built', () => {
    expect(() => graphListUrl(GRAPH, '/me/messages', ['id'], 10, '$filter=x')).toThrow(BadUserInputError);
  });
});
