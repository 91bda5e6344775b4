import type { ProviderDefinition } from '../provider.js';
import { githubApi } from './api.js';
import { githubConfig } from './config.js';
import { GitHubIdentity } from './fields.js';
import { githubTokenPolicy } from './token.js';

/** GitHub: its variables, token policy, API and GraphQL identity type with its fields. */
export const github: ProviderDefinition = { name: 'github', config: githubConfig, tokenPolicy: githubTokenPolicy, api: githubApi, identity: GitHubIdentity };
