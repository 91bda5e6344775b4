import { describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../../config.js';
import { BadUserInputError, ConfigurationError } from '../../errors.js';
import { checkedPath, queryParameters, requestUrl } from './request.js';

// OAuth2Identity.request sends the user's provider token to `<apiUrl><path>?<query>`, with a path
// the caller chooses. The token must only ever reach URLs under the connection's configured apiUrl:
// not another host, not a sibling path, not what an upstream's own normalisation (percent-decoding,
// dot segments, `;` parameters, backslashes) would make of the path. Every refusal is
// BAD_USER_INPUT naming the rule it broke, and happens before anything is sent.

/** The error `run` throws; fails the test when it throws nothing. */
function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal, but nothing was thrown');
}

/** Expects `run` to be refused with BAD_USER_INPUT whose message matches `rule`. */
function expectBadInput(run: () => unknown, rule: RegExp, label?: string): BadUserInputError {
  const error = thrownBy(run);
  expect(error, label).toBeInstanceOf(BadUserInputError);
  const refusal = error as BadUserInputError;
  expect(refusal.extensions.code, label).toBe('BAD_USER_INPUT');
  expect(refusal.message, label).toMatch(rule);
  return refusal;
}

const expectRefusedPath = (path: string, rule: RegExp) => expectBadInput(() => checkedPath(path), rule, JSON.stringify(path));

// The rules, by the words of their messages.
const LENGTH = /must be 1 to 2048 characters long/;
const CONTROL = /must not contain control characters/;
const QUERY_OR_FRAGMENT = /must not contain "\?" or "#"/;
const BACKSLASH = /must not contain a backslash/;
const LEADING_SLASH = /must start with "\/"/;
const DOUBLE_SLASH = /must not start with "\/\/"/;
const MALFORMED_ENCODING = /"%" that does not start a percent-encoding/;
const DANGEROUS_ENCODING = /must not contain percent-encoded "\.", "\/", "\\", "%", ";", control characters or overlong UTF-8/;
const DOT_SEGMENTS = /must not contain "\." or "\.\." segments/;
const PATH_CHARACTERS = /may contain only URL path characters \(RFC 3986\)/;

/** Paths an API legitimately uses; each must pass unchanged and stay under apiUrl. */
const ACCEPTED = [
  '/',
  '/me',
  '/v1/items:batchGet',
  '/users/42/items/',
  '/urn:isbn:0451450523',
  '/a%20b',
  '/caf%C3%A9',
  '/%41%42%43',
  '/report%2Dfinal', // %2D is "-": an encoded unreserved character changes nothing
  '/a%3Fb', // an encoded "?" is data in a segment, not a query
  '/items;version=2',
  '/matrix;x=1;y=2/rows',
  "/~user/!$&'()*+,=",
  '/@me',
  '/.well-known/openid-configuration',
  '/a.b/c.json',
  '/...',
  '/a..b/..c/d..',
  `/${'a'.repeat(2047)}`, // exactly 2048 characters
];

describe('checkedPath: accepted paths', () => {
  it('returns an ordinary API path unchanged', () => {
    for (const path of ACCEPTED) expect(checkedPath(path), path.slice(0, 40)).toBe(path);
  });
});

describe('checkedPath: length', () => {
  it('refuses the empty path', () => {
    expectRefusedPath('', LENGTH);
  });

  it('accepts 2048 characters and refuses 2049 (overlong paths)', () => {
    expect(checkedPath(`/${'a'.repeat(2047)}`)).toHaveLength(2048);
    expectRefusedPath(`/${'a'.repeat(2048)}`, LENGTH);
    expectRefusedPath(`/${'a'.repeat(100_000)}`, LENGTH);
  });

  it('quotes at most the first 100 characters of an overlong path in its message', () => {
    const path = `/${'b'.repeat(5000)}`;
    const { message } = expectRefusedPath(path, LENGTH);
    expect(message).toContain(`"${path.slice(0, 100)}…"`);
    expect(message.length).toBeLessThan(250);
  });
});

describe('checkedPath: control characters', () => {
  it('refuses C0 controls, DEL and C1 controls', () => {
    for (const path of [
      '/a\u0000',
      '/a\u0000/../../etc/passwd',
      '/a\tb',
      '/a\nb',
      '/a\rb',
      '/me\r\nHost: evil.example',
      '/\u001b[31m',
      '/\u001f',
      '/\u007f',
      '/\u0080',
      '/a\u0085b', // NEL
      '/\u009b', // CSI
      '/\u009f',
    ]) {
      expectRefusedPath(path, CONTROL);
    }
  });

  it('shows control characters escaped in its message, never raw', () => {
    const { message } = expectRefusedPath('/me\r\nX-Injected: 1', CONTROL);
    expect(message).not.toContain('\r');
    expect(message).not.toContain('\n');
    expect(message).toContain('"/me\\r\\nX-Injected: 1"');
  });
});

describe('checkedPath: query, fragment, backslashes and the leading slash', () => {
  it('refuses "?" and "#" (parameters belong in `query`)', () => {
    for (const path of ['/me?fields=all', '/me?', '/?', '/me#top', '/#', '/a#b?c']) expectRefusedPath(path, QUERY_OR_FRAGMENT);
  });

  it('refuses backslashes anywhere (some servers read them as "/")', () => {
    for (const path of ['/a\\b', '/..\\..\\secret', '/\\evil.example/x', '\\\\evil.example\\x', '/a\\']) expectRefusedPath(path, BACKSLASH);
  });

  it('refuses a path that does not start with "/" (it is appended to apiUrl as text)', () => {
    for (const path of ['me', 'https://evil.example/x', 'evil.example/x', '.evil.example/x', ':8443/x', '@evil.example/x', ' /me', '.', '..', '%2f']) {
      expectRefusedPath(path, LEADING_SLASH);
    }
  });

  it('refuses "//" at the start (a network-path reference names another host)', () => {
    for (const path of ['//evil.example/x', '//user:pass@evil.example/', '///x', '//']) expectRefusedPath(path, DOUBLE_SLASH);
  });
});

describe('checkedPath: "@" tricks', () => {
  it('refuses every way of turning "@" into user information before another host', () => {
    expectRefusedPath('@evil.example/steal', LEADING_SLASH);
    expectRefusedPath('//api.example.com@evil.example/', DOUBLE_SLASH);
    expectRefusedPath('\\\\user@evil.example', BACKSLASH);
  });

  it('accepts "@" inside the path, where it is an ordinary path character', () => {
    expect(checkedPath('/@evil.example')).toBe('/@evil.example');
    expect(checkedPath('/:pass@evil.example/x')).toBe('/:pass@evil.example/x');
  });
});

describe('checkedPath: percent-encodings', () => {
  it('refuses a "%" that does not start a percent-encoding', () => {
    for (const path of ['/100%', '/a%', '/a%2', '/a%zz', '/%g0', '/%u002e%u002e/x', '/%%32%65', '/a% 20']) expectRefusedPath(path, MALFORMED_ENCODING);
  });

  it('refuses encoded dots, whatever their case (%2e%2e, %2E)', () => {
    for (const path of ['/%2e%2e/admin', '/%2E%2E/admin', '/%2e%2E', '/.%2e/x', '/%2e./x', '/%2E', '/a/%2e/b', '/file%2ejson']) {
      expectRefusedPath(path, DANGEROUS_ENCODING);
    }
  });

  it('refuses encoded slashes and backslashes (%2f, %5c)', () => {
    for (const path of ['/a%2fb', '/a%2Fb', '/..%2f..%2fadmin', '/a%5cb', '/a%5C', '/..%5c..%5cadmin']) expectRefusedPath(path, DANGEROUS_ENCODING);
  });

  it('refuses double encoding (%25)', () => {
    for (const path of ['/%252e%252e/admin', '/%252f', '/%25', '/100%25']) expectRefusedPath(path, DANGEROUS_ENCODING);
  });

  it('refuses encoded control characters', () => {
    for (const path of ['/a%00', '/a%00.json', '/a%0d%0aX-Injected:%201', '/%09', '/%1f', '/%1F', '/%7f', '/%7F']) expectRefusedPath(path, DANGEROUS_ENCODING);
  });

  it('accepts encodings of harmless characters, in either case', () => {
    for (const path of ['/a%20b', '/%C3%A9t%C3%A9', '/%c3%a9t%c3%a9', '/%41', '/%7E', '/%3A', '/%40']) expect(checkedPath(path)).toBe(path);
  });

  // Servers that decode the path before dropping `;` parameters would resolve `..%3b` as `..`; the
  // WHATWG URL parser (requestUrl's last check) sees an ordinary segment, so checkedPath refuses it.
  it('refuses a dot segment whose ";" is percent-encoded (..%3b), like ..;', () => {
    for (const path of ['/..%3b/admin', '/..%3B/admin', '/.%3b/x', '/..%3bjsessionid=1/admin']) {
      expect(() => checkedPath(path), path).toThrow(BadUserInputError);
    }
  });
});

describe('checkedPath: overlong UTF-8 and encoded C1 controls', () => {
  it('refuses overlong forms a lenient decoder reads as "." or "/", and encoded C1 controls', () => {
    for (const path of ['/%c0%ae%c0%ae/admin', '/%C0%AF', '/%c1%9c', '/%e0%80%ae/x', '/%f0%80%80%ae', '/a%C2%85b', '/%c2%9f']) {
      expect(() => checkedPath(path), path).toThrow(BadUserInputError);
    }
  });

  it('still accepts ordinary UTF-8 percent-encodings', () => {
    for (const path of ['/caf%C3%A9', '/%E2%82%AC', '/%F0%9F%98%80', '/%C2%A9']) expect(checkedPath(path), path).toBe(path);
  });
});

describe('checkedPath: dot segments', () => {
  it('refuses "." and ".." segments anywhere', () => {
    for (const path of ['/..', '/../admin', '/a/../../b', '/a/..', '/.', '/./x', '/a/./b', '/a/.', '/v1/../../..']) expectRefusedPath(path, DOT_SEGMENTS);
  });

  it('refuses ".." and "." followed by ";" parameters (..;)', () => {
    for (const path of ['/..;/admin', '/..;jsessionid=1/admin', '/a/..;', '/.;/x', '/a/.;x=1/b', '/..;a;b/x']) expectRefusedPath(path, DOT_SEGMENTS);
  });

  it('accepts segments that merely contain dots', () => {
    for (const path of ['/...', '/.x', '/x.', '/a..b', '/..a', '/;../x', '/a;..']) expect(checkedPath(path)).toBe(path);
  });
});

describe('checkedPath: characters outside RFC 3986', () => {
  it('refuses spaces, quotes, brackets and other characters a path may not contain raw', () => {
    for (const path of ['/a b', '/a"b', '/<script>', '/a|b', '/a^b', '/a`b', '/{id}', '/a[0]', '/a]']) expectRefusedPath(path, PATH_CHARACTERS);
  });

  it('refuses unicode (percent-encode it instead), including look-alikes of "." and "/"', () => {
    for (const path of ['/café', '/日本', '/emoji🔑', '/a\u00a0b', '/a\u2028b', '/\ufeffme', '/\uff0e\uff0e/admin', '/a\uff0fb', '/a\u2215b']) {
      expectRefusedPath(path, PATH_CHARACTERS);
    }
  });
});

describe('queryParameters', () => {
  it('is empty without a query', () => {
    expect(queryParameters(undefined)).toEqual([]);
    expect(queryParameters(null)).toEqual([]);
    expect(queryParameters({})).toEqual([]);
  });

  it('turns strings, numbers and booleans into string pairs', () => {
    expect(queryParameters({ q: 'ada lovelace', page: 2, ratio: 1.5, archived: false, empty: '' })).toEqual([
      ['q', 'ada lovelace'],
      ['page', '2'],
      ['ratio', '1.5'],
      ['archived', 'false'],
      ['empty', ''],
    ]);
  });

  it('keeps the caller’s order of names', () => {
    expect(queryParameters({ sort: 'name', filter: 'open', after: 'x', before: 'y' }).map(([name]) => name)).toEqual(['sort', 'filter', 'after', 'before']);
  });

  it('repeats a name for each item of an array, in order, and drops a name with an empty array', () => {
    expect(queryParameters({ tag: ['b', 'a', 'c'], page: 1, id: [3, true], none: [] })).toEqual([
      ['tag', 'b'],
      ['tag', 'a'],
      ['tag', 'c'],
      ['page', '1'],
      ['id', '3'],
      ['id', 'true'],
    ]);
  });

  it('refuses a query that is not a JSON object', () => {
    for (const query of ['page=2', 2, true, ['page', 2], [['page', '2']]]) {
      expectBadInput(() => queryParameters(query), /`query` must be a JSON object/, JSON.stringify(query));
    }
  });

  it('refuses an empty parameter name', () => {
    expectBadInput(() => queryParameters({ '': 'x' }), /names must not be empty/);
    expectBadInput(() => queryParameters({ a: 1, '': ['x'] }), /names must not be empty/);
  });

  it('refuses values that are not scalars, naming the parameter', () => {
    for (const [index, value] of [
      { nested: 1 },
      null,
      [[1]],
      [{ a: 1 }],
      ['ok', null],
      Number.NaN,
      Number.POSITIVE_INFINITY,
      [Number.NEGATIVE_INFINITY],
    ].entries()) {
      expectBadInput(() => queryParameters({ filter: value }), /`query\.filter` must be a string, number or boolean/, `value #${index}`);
    }
    expectBadInput(() => queryParameters({ missing: undefined }), /`query\.missing` must be a string, number or boolean.*got undefined/);
  });

  it('accepts 100 parameters and refuses 101, counting array items', () => {
    const hundred = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, i]));
    expect(queryParameters(hundred)).toHaveLength(100);
    const tooMany = /more than 100 parameters/;
    expectBadInput(() => queryParameters({ ...hundred, p100: 100 }), tooMany);
    expectBadInput(() => queryParameters({ id: Array.from({ length: 101 }, (_, i) => i) }), tooMany);
    expectBadInput(() => queryParameters({ a: Array.from({ length: 60 }, () => 'x'), b: Array.from({ length: 41 }, () => 'y') }), tooMany);
    expect(queryParameters({ a: Array.from({ length: 60 }, () => 'x'), b: Array.from({ length: 40 }, () => 'y') })).toHaveLength(100);
  });

  it('treats a parsed "__proto__" key as an ordinary parameter name', () => {
    expect(queryParameters(JSON.parse('{"__proto__":"x","a":"1"}'))).toEqual([
      ['__proto__', 'x'],
      ['a', '1'],
    ]);
  });
});

/** A configuration with just the custom OAuth 2.0 connections (the only part requestUrl reads). */
function configWith(connections: Record<string, { apiUrl: string }>): GatewayConfig {
  return { providers: { oauth2: connections } } as unknown as GatewayConfig;
}

const CONFIG = configWith({
  acme: { apiUrl: 'https://api.example.com' },
  versioned: { apiUrl: 'https://api.example.com/v2' },
  nested: { apiUrl: 'https://api.example.com:8443/api/v1' },
});

describe('requestUrl', () => {
  it('appends the path to apiUrl as text', () => {
    expect(requestUrl(CONFIG, 'acme', '/me', [])).toBe('https://api.example.com/me');
    expect(requestUrl(CONFIG, 'acme', '/v1/items:batchGet', [])).toBe('https://api.example.com/v1/items:batchGet');
    expect(requestUrl(CONFIG, 'nested', '/items;version=2', [])).toBe('https://api.example.com:8443/api/v1/items;version=2');
  });

  it('does not decode or normalise the percent-encodings of an accepted path', () => {
    expect(requestUrl(CONFIG, 'acme', '/a%20b/caf%C3%A9', [])).toBe('https://api.example.com/a%20b/caf%C3%A9');
  });

  it('adds the query parameters in order, encoded, names repeated', () => {
    const url = requestUrl(CONFIG, 'acme', '/items', [
      ['page', '2'],
      ['tag', 'a'],
      ['tag', 'b'],
      ['q', 'a b&c=d#e?f/é'],
    ]);
    expect(url).toBe('https://api.example.com/items?page=2&tag=a&tag=b&q=a+b%26c%3Dd%23e%3Ff%2F%C3%A9');
    expect([...new URL(url).searchParams]).toEqual([
      ['page', '2'],
      ['tag', 'a'],
      ['tag', 'b'],
      ['q', 'a b&c=d#e?f/é'],
    ]);
  });

  it('keeps every accepted path under an apiUrl with a path prefix (/v2/), on the same origin', () => {
    expect(requestUrl(CONFIG, 'versioned', '/items', [])).toBe('https://api.example.com/v2/items');
    expect(requestUrl(CONFIG, 'versioned', '/', [])).toBe('https://api.example.com/v2/');
    for (const path of ACCEPTED) {
      const url = new URL(requestUrl(CONFIG, 'versioned', checkedPath(path), [['x', '1']]));
      expect(url.origin, path.slice(0, 40)).toBe('https://api.example.com');
      expect(url.pathname.startsWith('/v2/'), path.slice(0, 40)).toBe(true);
      expect(url.search).toBe('?x=1');
      expect(url.hash).toBe('');
    }
  });

  it('keeps "@" in the path on apiUrl’s host', () => {
    const url = new URL(requestUrl(CONFIG, 'acme', '/@evil.example', []));
    expect(url.host).toBe('api.example.com');
    expect(url.username).toBe('');
    expect(new URL(requestUrl(CONFIG, 'versioned', '/:pass@evil.example/x', [])).host).toBe('api.example.com');
  });

  // requestUrl checks the URL it built once more, so that a gap in checkedPath still could not send
  // the token elsewhere. These paths have not been through checkedPath.
  it('refuses, by itself, a path that would leave apiUrl once parsed', () => {
    const escapes = /`path` escapes the apiUrl of versioned/;
    for (const path of ['/../admin', '/a/../..', '/%2e%2e/admin', '/.%2E/admin', '/..\\admin', '2/items', 'x', '', '?debug=1', '#x', '/?debug=1', '/me#x']) {
      expectBadInput(() => requestUrl(CONFIG, 'versioned', path, []), escapes, JSON.stringify(path));
    }
    for (const path of ['@evil.example/x', '.evil.example/x', ':8443/x']) {
      expectBadInput(() => requestUrl(CONFIG, 'acme', path, []), /`path` escapes the apiUrl of acme/, JSON.stringify(path));
    }
    // These stay on apiUrl's host even unchecked (the host ends where the path begins).
    for (const path of ['//evil.example/x', '\\\\evil.example/x']) {
      expect(new URL(requestUrl(CONFIG, 'acme', path, [])).host, JSON.stringify(path)).toBe('api.example.com');
    }
  });

  it('is CONFIGURATION_ERROR for a connection that is not configured', () => {
    for (const connection of ['unknown', '', 'ACME', 'constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const error = thrownBy(() => requestUrl(CONFIG, connection, '/me', []));
      expect(error, connection).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).extensions, connection).toMatchObject({ code: 'CONFIGURATION_ERROR', provider: 'oauth2' });
    }
    expect(() => requestUrl(configWith({}), 'acme', '/me', [])).toThrow(ConfigurationError);
  });

  it('is CONFIGURATION_ERROR for a connection without an apiUrl', () => {
    expect(() => requestUrl(configWith({ blank: { apiUrl: '' } }), 'blank', '/me', [])).toThrow(ConfigurationError);
  });

  it('is CONFIGURATION_ERROR for an apiUrl with a query or a fragment', () => {
    const config = configWith({ keyed: { apiUrl: 'https://api.example.com/v1?key=abc' }, anchored: { apiUrl: 'https://api.example.com/v1#top' } });
    for (const connection of ['keyed', 'anchored']) {
      const error = thrownBy(() => requestUrl(config, connection, '/me', []));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).code).toBe('CONFIGURATION_ERROR');
      expect((error as ConfigurationError).message).toMatch(/must not have a query or fragment/);
    }
  });

  it('caps the whole URL at 8192 characters, counted after encoding', () => {
    const empty = requestUrl(CONFIG, 'acme', '/x', [['q', '']]);
    const fits = requestUrl(CONFIG, 'acme', '/x', [['q', 'a'.repeat(8192 - empty.length)]]);
    expect(fits).toHaveLength(8192);
    const tooLong = /longer than 8192 characters/;
    expectBadInput(() => requestUrl(CONFIG, 'acme', '/x', [['q', 'a'.repeat(8193 - empty.length)]]), tooLong);
    // 1,400 characters of "é" are 8,400 once percent-encoded.
    expectBadInput(() => requestUrl(CONFIG, 'acme', '/x', [['q', 'é'.repeat(1400)]]), tooLong);
    // 100 parameters of 100 characters each, on a path of the longest length.
    const many = Array.from({ length: 100 }, (_, i): [string, string] => [`p${i}`, 'v'.repeat(100)]);
    expectBadInput(() => requestUrl(CONFIG, 'acme', checkedPath(`/${'a'.repeat(2047)}`), many), tooLong);
  });
});
