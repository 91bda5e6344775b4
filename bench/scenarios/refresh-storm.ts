import { SEED_USERS } from '../../sandbox/index.js';
import type { BenchContext, RunningServer } from '../context.js';
import { postGraphQL } from '../graphql.js';
import { percentile } from '../load.js';
import { fixed, type Section } from '../report.js';

/**
 * Scenario (d): three gateway processes sharing the private Redis get 60 concurrent requests (20
 * each) for Grace, whose Google access token expired two hours ago (seeded so). Every request needs
 * a valid token; the fake Google's token endpoint must be called exactly once.
 */

const INSTANCES = 3;
const PER_INSTANCE = 20;
const QUERY = '{ me { google { accessToken } } }';

type StormData = { me: { google: { accessToken: string | null } | null } | null };

export async function scenarioD(ctx: BenchContext): Promise<Section> {
  const { tenant, google } = ctx.sandbox;
  const env = await ctx.redisEnv();
  const gateways: RunningServer[] = [];
  try {
    for (let i = 0; i < INSTANCES; i++) gateways.push(await ctx.startGateway(`gateway-storm-${i + 1}`, env));
    // Warm each instance on another user first (tenant keys, Management token), so the storm is about the renewal alone.
    for (const gateway of gateways) {
      const warm = await postGraphQL(gateway.url, ctx.adaToken, '{ me { id } }');
      if (warm.status !== 200 || warm.errors) throw new Error(`${gateway.name}: warm-up failed: ${warm.text.slice(0, 300)}`);
    }
    const grace = await tenant.issueAccessToken({ sub: SEED_USERS.grace, scope: 'read:user_idp_tokens' });
    const before = { token: google.count('token'), getUser: tenant.count('getUser') };
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: INSTANCES * PER_INSTANCE }, (_, i) => postGraphQL<StormData>(gateways[i % INSTANCES]!.url, grace, QUERY, undefined, 60_000)),
    );
    const wallMs = performance.now() - started;
    const renewals = google.count('token') - before.token;
    const reads = tenant.count('getUser') - before.getUser;
    const tokens = answers.map((answer) => answer.data?.me?.google?.accessToken).filter((token): token is string => typeof token === 'string');
    const distinct = new Set(tokens);
    const failed = answers.filter((answer) => answer.status !== 200 || answer.errors || !answer.data?.me?.google?.accessToken);
    const latencies = answers.map((answer) => answer.ms);

    let works = 'n/a';
    const [token] = distinct;
    if (distinct.size === 1 && token) {
      const response = await fetch(`${google.origin}/oauth2/v3/userinfo`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      works = response.status === 200 ? 'yes (userinfo 200)' : `no (userinfo ${response.status})`;
    }
    const notes = [
      `Each instance was warmed with one \`{ me { id } }\` for Ada first (tenant keys, Management API token), so the storm measures the renewal alone.`,
    ];
    if (failed.length > 0) {
      const first = failed[0]!;
      notes.push(`${failed.length} of ${answers.length} answers failed; first: ${first.status} ${first.text.slice(0, 300)}`);
    }
    return {
      id: 'd',
      title: 'Refresh storm: 3 instances, 60 concurrent requests, one expired Google token',
      status: 'ran',
      description:
        `${INSTANCES} gateway processes sharing the private Redis (one key prefix, one encryption key); ${INSTANCES * PER_INSTANCE} concurrent ` +
        `\`${QUERY}\` for Grace (${PER_INSTANCE} per instance), whose Google token expired two hours ago; calls counted at the fake Google's token endpoint.`,
      tables: [
        {
          head: [
            'Google token calls',
            'answers with a token',
            'distinct tokens',
            'renewed token works',
            'Auth0 GET /users/{id}',
            'p50 ms',
            'max ms',
            'storm wall ms',
          ],
          rows: [
            [
              String(renewals),
              `${answers.length - failed.length}/${answers.length}`,
              String(distinct.size),
              works,
              String(reads),
              fixed(percentile(latencies, 0.5), 0),
              fixed(Math.max(...latencies), 0),
              fixed(wallMs, 0),
            ],
          ],
        },
      ],
      checks: [
        {
          target: 'exactly 1 call to the Google token endpoint (all 60 answered with the one renewed token)',
          measured: `${renewals} call${renewals === 1 ? '' : 's'}, ${answers.length - failed.length}/${answers.length} answered, ${distinct.size} distinct token${distinct.size === 1 ? '' : 's'}`,
          met: renewals === 1 && failed.length === 0 && distinct.size === 1,
        },
      ],
      notes,
    };
  } finally {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
  }
}
