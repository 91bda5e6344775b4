import { GraphQLClient } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { graphql } from './gql/index.js';
import { startHarness, type Harness } from './helpers/harness.js';

// The typed client partners will use: documents written with `graphql(...)` are typed by
// `npm run codegen` from the committed SDL and sent with graphql-request.
const MeQuery = graphql(`
  query Me {
    me {
      id
      email
      identities {
        provider
        userId
        token { state hasRefreshToken expiresAt }
      }
    }
  }
`);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ redis: false });
});
afterAll(async () => h?.close());

describe('typed client', () => {
  it('queries me with a typed document over graphql-request', async () => {
    const client = new GraphQLClient(h.main.url, { headers: { authorization: `Bearer ${await h.token(SEED_USERS.ada)}` } });
    const { me } = await client.request(MeQuery);
    expect(me.id).toBe(SEED_USERS.ada);
    const states = me.identities.map((identity) => identity.token.state);
    expect(states).toEqual(['VALID', 'VALID', 'VALID', 'VALID']);
  });
});
