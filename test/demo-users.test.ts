import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { errorCodes, startHarness, type Harness } from './helpers/harness.js';

// The sandbox seeds two users whose provider sign-in is dead, so `npm run demo` shows
// REAUTHENTICATION_REQUIRED in GraphiQL: Katherine (Google refuses her refresh token) and Hedy
// (Facebook answers code 190 for her token). The dead provider's fields fail naming its
// connection; everything else about the user still arrives.

interface Answer {
  user: {
    id: string;
    name: string;
    identities: { connection: string; token: { state: string } | null }[];
    google: { profile: { email: string } | null } | null;
    facebook: { profile: { name: string } | null } | null;
  } | null;
}

const QUERY = `query ($id: ID!) { user(id: $id) {
  id name identities { connection token { state } }
  google { profile { email } } facebook { profile { name } } } }`;

let h: Harness;
let partner: string;
beforeAll(async () => {
  h = await startHarness({ redis: false });
  partner = await h.token('demo-partner@clients', 'read:users read:user_idp_tokens');
});
afterAll(async () => h?.close());

describe('seeded users with a dead provider sign-in', () => {
  it('revokedGoogle: google is REAUTHENTICATION_REQUIRED naming google-oauth2, Facebook and the rest still arrive', async () => {
    const answer = await h.query<Answer>(partner, QUERY, { id: SEED_USERS.revokedGoogle });
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(answer.errors?.[0]).toMatchObject({ path: ['user', 'google', 'profile'], extensions: { connection: 'google-oauth2', reason: 'invalid_grant' } });
    expect(answer.data?.user).toMatchObject({
      id: SEED_USERS.revokedGoogle,
      name: 'Katherine Johnson',
      google: { profile: null },
      facebook: { profile: { name: 'Katherine Johnson' } },
    });
    expect(h.sandbox.google.count('token')).toBe(1);
    const again = await h.query<Answer>(partner, QUERY, { id: SEED_USERS.revokedGoogle });
    expect(again.data?.user?.identities).toEqual([
      { connection: 'google-oauth2', token: { state: 'REAUTHENTICATION_REQUIRED' } },
      { connection: 'facebook', token: { state: 'VALID' } },
    ]);
  });

  it('deadFacebook: facebook is REAUTHENTICATION_REQUIRED naming facebook, Google and the rest still arrive', async () => {
    const answer = await h.query<Answer>(partner, QUERY, { id: SEED_USERS.deadFacebook });
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(answer.errors?.[0]).toMatchObject({ path: ['user', 'facebook', 'profile'], extensions: { connection: 'facebook' } });
    expect(answer.data?.user).toMatchObject({
      id: SEED_USERS.deadFacebook,
      name: 'Hedy Lamarr',
      google: { profile: { email: 'hedy@example.com' } },
      facebook: { profile: null },
    });
    const again = await h.query<Answer>(partner, QUERY, { id: SEED_USERS.deadFacebook });
    expect(again.data?.user?.identities).toEqual([
      { connection: 'facebook', token: { state: 'REAUTHENTICATION_REQUIRED' } },
      { connection: 'google-oauth2', token: { state: 'VALID' } },
    ]);
  });
});
