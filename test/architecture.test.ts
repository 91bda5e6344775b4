import { fileURLToPath } from 'node:url';
import madge from 'madge';
import { beforeAll, describe, expect, it } from 'vitest';
import { providerConfigFragments } from '../src/providers/config.js';
import { providers } from '../src/providers/index.js';

// The import graph of src/ (type imports included): no cycles, and layers only point down.
//   0 infrastructure  config, errors, logger, metrics, http/, store/, limits/, a provider's config fragment
//   1 domain          auth0/, tokens/, services.ts, the provider call layer, the rest of a provider's folder
//                     (API definition, token policy, pure helpers such as the OAuth2 path checks)
//   2 GraphQL         graphql/, a provider's identity type, fields and definition, providers/index.ts
//   3 HTTP            plugins/, gateway.ts, main.ts
// testing/ holds support for the unit tests next to the modules (excluded from the build): it may
// import any layer, and no module of the product may import it.
// A module may import its own layer or a lower one. A provider API client that imported the
// GraphQL context, say, would be a design bug: it must work for any caller, not only a resolver.

const root = fileURLToPath(new URL('../src', import.meta.url));

const LAYERS: [number, RegExp][] = [
  [0, /^(config|env|errors|logger|metrics)\.ts$|^(http|store|limits)\/|^providers\/[^/]+\/config\.ts$|^providers\/config\.ts$/],
  [1, /^(auth0|tokens)\/|^services\.ts$|^providers\/api\.ts$|^providers\/[^/]+\/(?!fields\.ts$|index\.ts$|config\.ts$)[^/]+\.ts$/],
  [2, /^graphql\/|^providers\/(index|provider)\.ts$|^providers\/[^/]+\/(fields|index)\.ts$/],
  [3, /^plugins\/|^(gateway|main)\.ts$/],
];
const TEST_SUPPORT = /^testing\//;

function layerOf(file: string): number | undefined {
  return LAYERS.find(([, pattern]) => pattern.test(file))?.[0];
}

let graph: Record<string, string[]>;
let circular: string[][];

beforeAll(async () => {
  const result = await madge(root, {
    fileExtensions: ['ts'],
    tsConfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
    excludeRegExp: [/\.test\.ts$/],
  });
  graph = result.obj();
  circular = result.circular();
}, 60_000);

describe('the import graph of src/', () => {
  it('has no cycles', () => {
    expect(circular).toEqual([]);
  });

  it('places every module in a layer', () => {
    expect(Object.keys(graph).filter((file) => layerOf(file) === undefined && !TEST_SUPPORT.test(file))).toEqual([]);
  });

  it("keeps the unit tests' support (testing/) out of the product", () => {
    const product = Object.entries(graph).filter(([file]) => !TEST_SUPPORT.test(file));
    expect(product.flatMap(([file, imports]) => imports.filter((imported) => TEST_SUPPORT.test(imported)).map((imported) => `${file} → ${imported}`))).toEqual(
      [],
    );
  });

  it('only imports downwards', () => {
    const upward: string[] = [];
    for (const [file, imports] of Object.entries(graph)) {
      if (TEST_SUPPORT.test(file)) continue;
      const own = layerOf(file) ?? 0;
      for (const imported of imports) {
        const target = layerOf(imported);
        if (target !== undefined && target > own) upward.push(`${file} (layer ${own}) imports ${imported} (layer ${target})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('keeps the sandbox and the test helpers out of the product', () => {
    const outside = Object.entries(graph).flatMap(([file, imports]) =>
      imports.filter((imported) => imported.startsWith('..')).map((imported) => `${file} → ${imported}`),
    );
    expect(outside).toEqual([]);
  });
});

describe('the provider registry', () => {
  it("lists every provider definition's configuration fragment in providers/config.ts, under its name", () => {
    expect(Object.keys(providerConfigFragments).sort()).toEqual(providers.map((provider) => provider.name).sort());
    for (const provider of providers) expect(providerConfigFragments[provider.name as keyof typeof providerConfigFragments]).toBe(provider.config);
  });
});
