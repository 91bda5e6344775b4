import { describe, expect, it } from 'vitest';
import { hashSlot } from './redis-cluster.js';

// The cluster store groups multi-key commands by hash slot itself, so its slot function must agree
// with Redis (the integration tests also compare it with CLUSTER KEYSLOT on a real cluster).

describe('hashSlot', () => {
  it('is CRC16/XMODEM modulo 16384', () => {
    // CRC16/XMODEM("123456789") is 0x31C3, the check value of that CRC.
    expect(hashSlot('123456789')).toBe(0x31c3);
    expect(hashSlot('foo')).toBe(12182);
    expect(hashSlot('hello')).toBe(866);
    expect(hashSlot('')).toBe(0);
  });

  it('hashes only the hash tag, when there is one', () => {
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('user1000'));
    expect(hashSlot('{user1000}.followers')).toBe(hashSlot('user1000'));
    expect(hashSlot('idpgw:token:{abc}')).toBe(hashSlot('idpgw:lock:token:{abc}'));
    expect(hashSlot('foo{bar}{zap}')).toBe(hashSlot('bar'));
    expect(hashSlot('foo{{bar}}zap')).toBe(hashSlot('{bar'));
  });

  it('hashes the whole key when the tag is empty or unclosed', () => {
    expect(hashSlot('foo{}{bar}')).not.toBe(hashSlot('bar'));
    expect(hashSlot('foo{}{bar}')).toBe(hashSlot('foo{}{bar}'));
    expect(hashSlot('foo{bar')).not.toBe(hashSlot('bar'));
  });

  it('hashes the whole key when it has a closing brace but no opening one', () => {
    // CLUSTER KEYSLOT foo}bar is 7223; the text before the `}` alone ("foo") would be 12182.
    expect(hashSlot('foo}bar')).toBe(7223);
  });

  it('hashes UTF-8 bytes and stays within the 16384 slots', () => {
    expect(hashSlot('user:{café}')).toBe(hashSlot('café'));
    for (let i = 0; i < 2000; i++) {
      const slot = hashSlot(`key-${i}-\u00e9\u{1f600}`);
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(slot).toBeLessThan(16384);
    }
  });
});
