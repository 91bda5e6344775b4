import { afterEach, describe, expect, it } from 'vitest';
import { logSink } from '../testing/log-sink.js';
import { MemoryStore } from '../store/memory.js';
import type { SharedStore } from '../store/store.js';
import { sha256Hex } from './persisted-operation-id.js';
import { PersistedQueryRegistry, type PersistedQueryRegistryOptions } from './persisted-query-registry.js';

const stores: MemoryStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** A registry on a fresh in-memory store, with its log lines. */
function registry(options: Partial<PersistedQueryRegistryOptions> = {}) {
  const store = new MemoryStore();
  stores.push(store);
  const { lines: logs, logger } = logSink();
  return { store, logs, registry: new PersistedQueryRegistry({ store, maxBytes: 1024, ttlSeconds: 60, logger, ...options }) };
}

const doc = (label: string) => `query Q { me { id } } # ${label}`;

/** A store whose every command fails, as Redis does while unreachable. */
function failingStore(): SharedStore {
  const fail = () => Promise.reject(new Error('redis is reconnecting'));
  return { get: fail, set: fail } as unknown as SharedStore;
}

describe('PersistedQueryRegistry', () => {
  it('keys a document by its hash alone, in a hash tag of its own', () => {
    expect(PersistedQueryRegistry.key('ab'.repeat(32))).toBe(`apq:{${'ab'.repeat(32)}}`);
  });

  it('registers a document in the store under its key, with the TTL, and finds it again', async () => {
    const { store, registry: apq } = registry({ ttlSeconds: 1 });
    const query = doc('one');
    const hash = sha256Hex(query);
    expect(await apq.find(hash)).toBeNull();
    expect(await apq.register(hash, query)).toBe('registered');
    expect(await store.get(PersistedQueryRegistry.key(hash))).toBe(query);
    expect(await apq.find(hash)).toBe(query);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await store.get(PersistedQueryRegistry.key(hash))).toBeNull();
  });

  it('finds what another instance registered in the shared store', async () => {
    const { store, registry: apq } = registry();
    const query = doc('other instance');
    await store.set(PersistedQueryRegistry.key(sha256Hex(query)), query, 60_000);
    expect(await apq.find(sha256Hex(query))).toBe(query);
  });

  it('does not register a document over maxBytes, counting UTF-8 bytes', async () => {
    const { store, registry: apq } = registry({ maxBytes: 40 });
    const ascii = 'query Q { me { id } } #'.padEnd(40, 'x');
    const accented = 'query Q { me { id } } #'.padEnd(39, 'é');
    expect(await apq.register(sha256Hex(ascii), ascii)).toBe('registered');
    expect(await apq.register(sha256Hex(accented), accented)).toBe('too-large');
    expect(await store.get(PersistedQueryRegistry.key(sha256Hex(accented)))).toBeNull();
  });

  it('looks up SHA-256 hex hashes only', async () => {
    const { store, registry: apq } = registry();
    let reads = 0;
    const get = store.get.bind(store);
    store.get = (key) => {
      reads += 1;
      return get(key);
    };
    expect(await apq.find('not-a-hash')).toBeNull();
    expect(await apq.find('{tag}')).toBeNull();
    expect(reads).toBe(0);
  });

  it('ignores a stored document that does not hash to its key, and logs it', async () => {
    const { store, logs, registry: apq } = registry();
    const hash = sha256Hex(doc('genuine'));
    await store.set(PersistedQueryRegistry.key(hash), doc('planted'), 60_000);
    expect(await apq.find(hash)).toBeNull();
    expect(logs).toContainEqual(expect.objectContaining({ event: 'persisted_query_tampered', hash }));
  });

  it('registers at most budgetDocuments documents per TTL, then runs the rest unregistered, logging once', async () => {
    const { store, logs, registry: apq } = registry({ budgetDocuments: 2 });
    const queries = ['a', 'b', 'c', 'd'].map(doc);
    const outcomes = [];
    for (const query of queries) outcomes.push(await apq.register(sha256Hex(query), query));
    expect(outcomes).toEqual(['registered', 'registered', 'over-budget', 'over-budget']);
    expect(await store.get(PersistedQueryRegistry.key(sha256Hex(queries[2]!)))).toBeNull();
    expect(logs.filter((line) => line.event === 'persisted_query_budget_full')).toHaveLength(1);
    // Registering one it already holds again is no new document.
    expect(await apq.register(sha256Hex(queries[0]!), queries[0]!)).toBe('registered');
  });

  it('registers at most budgetBytes bytes per TTL', async () => {
    const { registry: apq } = registry({ budgetBytes: 60 });
    const first = doc('first'.padEnd(20, '.'));
    const second = doc('second'.padEnd(20, '.'));
    expect(await apq.register(sha256Hex(first), first)).toBe('registered');
    expect(await apq.register(sha256Hex(second), second)).toBe('over-budget');
  });

  it('frees the budget as registrations expire', async () => {
    const { registry: apq } = registry({ budgetDocuments: 1, ttlSeconds: 1 });
    expect(await apq.register(sha256Hex(doc('x')), doc('x'))).toBe('registered');
    expect(await apq.register(sha256Hex(doc('y')), doc('y'))).toBe('over-budget');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await apq.register(sha256Hex(doc('y')), doc('y'))).toBe('registered');
  });

  it('answers "not found" and "failed" while the store fails, logging without the document', async () => {
    const { logs, registry: apq } = registry({ store: failingStore() });
    const query = doc('outage');
    expect(await apq.find(sha256Hex(query))).toBeNull();
    expect(await apq.register(sha256Hex(query), query)).toBe('failed');
    expect(logs.map((line) => line.event)).toEqual(['persisted_query_lookup_failed', 'persisted_query_register_failed']);
    expect(JSON.stringify(logs)).not.toContain('outage');
  });
});
