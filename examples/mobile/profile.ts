import { graphql } from '../gql/index.js';

/** The profile screen's query. */
export const MobileProfile = graphql(`
  query MobileProfile {
    me {
      id
      name
      picture
      identities {
        provider
        token {
          state
          expiresAt
        }
      }
    }
  }
`);
