import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory.js';

// The in-memory store: each entry lives as long as it was written for, and the store holds at most
// `maxEntries`, dropping the least recently used first, so a long-running instance stays bounded.

/** A store on a clock the test moves by hand. */
function storeWithClock(maxEntries?: number): { store: MemoryStore; advance: (ms: number) => void } {
  let now = 1_000_000;
  return { store: new MemoryStore({ maxEntries, now: () => now }), advance: (ms) => (now += ms) };
}

describe('MemoryStore lifetimes', () => {
  it('drops an entry once its own lifetime has passed, each key with the lifetime it was set with', async () => {
    const { store, advance } = storeWithClock();
    await store.set('short', 'a', 1_000);
    await store.setMany(
      [
        ['long', 'b'],
        ['long2', 'c'],
      ],
      60_000,
    );
    advance(999);
    expect(await store.getMany(['short', 'long', 'long2'])).toEqual(['a', 'b', 'c']);
    advance(2);
    expect(await store.getMany(['short', 'long', 'long2'])).toEqual([null, 'b', 'c']);
    advance(60_000);
    expect(await store.get('long')).toBeNull();
  });

  it('setIfAbsent writes only when the key is absent or expired', async () => {
    const { store, advance } = storeWithClock();
    expect(await store.setIfAbsent('lock', 'one', 1_000)).toBe(true);
    expect(await store.setIfAbsent('lock', 'two', 1_000)).toBe(false);
    expect(await store.get('lock')).toBe('one');
    advance(1_001);
    expect(await store.setIfAbsent('lock', 'two', 1_000)).toBe(true);
    expect(await store.get('lock')).toBe('two');
  });

  it('extendIfEquals gives a new lifetime only while the key holds the value', async () => {
    const { store, advance } = storeWithClock();
    await store.set('lock', 'mine', 1_000);
    advance(900);
    expect(await store.extendIfEquals('lock', 'mine', 1_000)).toBe(true);
    advance(900);
    expect(await store.get('lock')).toBe('mine');
    expect(await store.extendIfEquals('lock', 'theirs', 60_000)).toBe(false);
    advance(101);
    expect(await store.get('lock')).toBeNull();
    expect(await store.extendIfEquals('lock', 'mine', 1_000)).toBe(false);
    expect(await store.get('lock')).toBeNull();
  });

  it('deleteIfEquals deletes only the holder’s value; delete removes any keys', async () => {
    const { store } = storeWithClock();
    await store.setMany(
      [
        ['a', '1'],
        ['b', '2'],
        ['c', '3'],
      ],
      1_000,
    );
    expect(await store.deleteIfEquals('a', 'other')).toBe(false);
    expect(await store.deleteIfEquals('a', '1')).toBe(true);
    await store.delete('b', 'missing');
    expect(await store.getMany(['a', 'b', 'c'])).toEqual([null, null, '3']);
  });
});

describe('MemoryStore bound', () => {
  it('holds at most maxEntries, dropping the least recently used entry first', async () => {
    const { store } = storeWithClock(3);
    await store.set('a', '1', 60_000);
    await store.set('b', '2', 60_000);
    await store.set('c', '3', 60_000);
    // Reading `a` makes `b` the least recently used.
    expect(await store.get('a')).toBe('1');
    await store.set('d', '4', 60_000);
    expect(store.size).toBe(3);
    expect(await store.getMany(['a', 'b', 'c', 'd'])).toEqual(['1', null, '3', '4']);
  });

  it('stays at its bound however many distinct keys are written', async () => {
    const { store } = storeWithClock(100);
    for (let i = 0; i < 10_000; i += 1) await store.set(`user:${i}`, 'x', 86_400_000);
    expect(store.size).toBe(100);
    expect(await store.get('user:9999')).toBe('x');
    expect(await store.get('user:0')).toBeNull();
  });

  it('holds 100 000 entries by default', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 100_001; i += 1) await store.set(`k${i}`, 'x', 60_000);
    expect(store.size).toBe(100_000);
    expect(await store.get('k0')).toBeNull();
  });
});

describe('MemoryStore publish/subscribe', () => {
  it('delivers to every local subscriber and reports itself live at once', async () => {
    const store = new MemoryStore();
    const received: string[] = [];
    const live: boolean[] = [];
    store.subscribe(
      'ch',
      (message) => received.push(`1:${message}`),
      (state) => live.push(state),
    );
    store.subscribe(
      'ch',
      (message) => received.push(`2:${message}`),
      () => undefined,
    );
    await store.publish('ch', 'hello');
    await store.publish('other', 'ignored');
    expect(received).toEqual(['1:hello', '2:hello']);
    expect(live).toEqual([true]);
    await store.ping();
  });

  it('forgets every entry when closed (sealed token copies go with the store)', async () => {
    const store = new MemoryStore();
    await store.set('token:a', 'sealed-a', 60_000);
    await store.close();
    expect(await store.get('token:a')).toBeNull();
  });
});
