import { LRUCache } from 'lru-cache';
import { isSha256Hex } from '../limits/trusted-documents.js';
import type { Logger } from '../logger.js';
import type { SharedStore } from '../store/store.js';
import { sha256Hex } from './persisted-operation-id.js';

/** Options of PersistedQueryRegistry. */
export interface PersistedQueryRegistryOptions {
  store: SharedStore;
  /** Largest document (UTF-8 bytes) registered (PERSISTED_QUERY_MAX_BYTES). */
  maxBytes: number;
  /** How long a registered document is kept (PERSISTED_QUERY_TTL_SECONDS). */
  ttlSeconds: number;
  logger: Logger;
  /** Bytes of documents one instance may have registered within one TTL. */
  budgetBytes?: number;
  /** Documents one instance may have registered within one TTL. */
  budgetDocuments?: number;
}

/** What became of a registration. */
export type Registration = 'registered' | 'too-large' | 'over-budget' | 'failed';

/** Documents read from the store, kept in process: at most this many, and this many characters. */
const LOCAL_DOCUMENTS = 1000;
const LOCAL_CHARS = 4 * 1024 * 1024;

/**
 * The documents of automatic persisted queries, by SHA-256, in the shared store: Redis (or a
 * Redis Cluster) when configured, so every instance knows what any instance registered, else
 * process memory. A document is kept under `apq:{<sha256>}`: its own hash tag, so documents spread
 * over a cluster's slots, and nothing but the hash in the key.
 *
 * Bounds: a document over `maxBytes` is not registered (the request that carried it still runs);
 * each key expires after `ttlSeconds`; and one instance registers at most `budgetDocuments`
 * documents and `budgetBytes` bytes per TTL (16 MiB, 10,000 by default), so a caller inventing
 * distinct documents cannot grow the store (or, without Redis, the process) without bound: past
 * the budget, documents run unregistered until earlier registrations expire. Only documents that
 * passed validation are registered (the plugin decides when).
 *
 * A document is stored as sent, not sealed: documents are not secrets (values belong in variables).
 * What is read back must hash to its key, or it is ignored, so a tampered store entry never runs
 * in place of the document its hash names. Store failures are logged and answered as "not found",
 * so a client falls back to sending the whole document, which runs without the store.
 */
export class PersistedQueryRegistry {
  private readonly store: SharedStore;
  private readonly maxBytes: number;
  private readonly ttlMs: number;
  private readonly logger: Logger;
  /** Documents read or registered lately: a hash names one document forever, so a local copy is never stale. */
  private readonly local: LRUCache<string, string>;
  /** This instance's registrations still alive in the store (hash → bytes), counted against the budget. */
  private readonly registered: LRUCache<string, number>;
  private budgetFullLogged = false;

  constructor({ store, maxBytes, ttlSeconds, logger, budgetBytes = 16 * 1024 * 1024, budgetDocuments = 10_000 }: PersistedQueryRegistryOptions) {
    this.store = store;
    this.maxBytes = maxBytes;
    this.ttlMs = ttlSeconds * 1000;
    this.logger = logger;
    this.local = new LRUCache({ max: LOCAL_DOCUMENTS, maxSize: LOCAL_CHARS, sizeCalculation: (document) => Math.max(1, document.length), ttl: this.ttlMs });
    this.registered = new LRUCache({ max: budgetDocuments, maxSize: budgetBytes, sizeCalculation: (bytes) => Math.max(1, bytes), ttl: this.ttlMs });
  }

  /** The store key of a document. */
  static key(hash: string): string {
    return `apq:{${hash}}`;
  }

  /** The document registered under a SHA-256 hex hash, or null (unknown, expired, or the store failed). */
  async find(hash: string): Promise<string | null> {
    if (!isSha256Hex(hash)) return null;
    const cached = this.local.get(hash);
    if (cached !== undefined) return cached;
    let document: string | null;
    try {
      document = await this.store.get(PersistedQueryRegistry.key(hash));
    } catch (error) {
      this.logger.warn({ event: 'persisted_query_lookup_failed', err: (error as Error).message }, 'persisted query lookup failed; answered as not found');
      return null;
    }
    if (document === null) return null;
    if (sha256Hex(document) !== hash) {
      this.logger.warn({ event: 'persisted_query_tampered', hash }, 'a stored persisted query does not match its hash; ignored');
      return null;
    }
    this.local.set(hash, document);
    return document;
  }

  /** Registers a document under its hash (the caller has checked that it matches), within the bounds. */
  async register(hash: string, document: string): Promise<Registration> {
    const bytes = Buffer.byteLength(document, 'utf8');
    if (bytes > this.maxBytes) return 'too-large';
    if (!this.registered.has(hash) && !this.withinBudget(bytes)) return 'over-budget';
    try {
      // Written even when registered before: the store may have lost it (a restart, an eviction).
      await this.store.set(PersistedQueryRegistry.key(hash), document, this.ttlMs);
    } catch (error) {
      this.logger.warn({ event: 'persisted_query_register_failed', err: (error as Error).message }, 'persisted query could not be registered');
      return 'failed';
    }
    this.registered.set(hash, bytes);
    this.local.set(hash, document);
    this.budgetFullLogged = false;
    return 'registered';
  }

  /** Whether one more document of `bytes` fits the budget (expired registrations no longer count). */
  private withinBudget(bytes: number): boolean {
    const { max, maxSize } = this.registered;
    const fits = () => this.registered.size < max && this.registered.calculatedSize + bytes <= maxSize;
    if (fits()) return true;
    this.registered.purgeStale();
    if (fits()) return true;
    if (!this.budgetFullLogged) {
      this.budgetFullLogged = true;
      this.logger.warn(
        { event: 'persisted_query_budget_full', documents: this.registered.size, bytes: this.registered.calculatedSize },
        'persisted query registrations are over budget; further documents run unregistered until earlier ones expire',
      );
    }
    return false;
  }
}
