import { bitbucketConfig } from './bitbucket/config.js';
import { facebookConfig } from './facebook/config.js';
import { githubConfig } from './github/config.js';
import { googleConfig } from './google/config.js';
import { microsoftConfig } from './microsoft/config.js';
import { oauth2Config } from './oauth2/config.js';

/**
 * Every provider's configuration fragment, by the name its configuration has under
 * `config.providers`. The gateway's configuration merges them (config.ts); this list holds only
 * environment variable schemas, so configuration needs nothing else of the providers.
 */
export const providerConfigFragments = {
  google: googleConfig,
  facebook: facebookConfig,
  bitbucket: bitbucketConfig,
  oauth2: oauth2Config,
  microsoft: microsoftConfig,
  github: githubConfig,
};
