import { describe, expect, it } from 'vitest';
import { bearerTokenOf } from './caller-token.js';

// The Authorization header is read strictly: exactly the Bearer scheme (any case), one token, and
// nothing around it but whitespace. Anything else is no token at all (401), never a guess.

describe('bearerTokenOf', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer    abc', 'abc'],
    ['Bearer abc  ', 'abc'],
  ])('reads %j as its token', (header, token) => {
    expect(bearerTokenOf(header)).toBe(token);
  });

  it.each([
    [null],
    [''],
    ['Bearer'],
    ['Bearer '],
    ['Basic abc'],
    ['xBearer abc'],
    [' Bearer abc'],
    ['Bearer abc def'],
    ['Bearer abc,Bearer def'],
    ['Bearerabc'],
  ])('finds no token in %j', (header) => {
    expect(bearerTokenOf(header)).toBeUndefined();
  });
});
