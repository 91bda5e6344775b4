import { Simulator } from './http.js';
import { TokenBook, type IssueOptions, type IssuedTokens, type TokenMint } from './provider-tokens.js';

/**
 * The account and token bookkeeping every provider fake shares: its accounts, keyed by one field of
 * the account, and the `TokenBook` of the tokens it issued, with the test-facing methods that seed
 * and age them. Each fake passes its provider's defaults once and keeps its lines for its wire format.
 */

/** What a provider fake fixes about its bookkeeping. */
export interface ProviderDefaults<Key extends string> {
  /** Class name, as error messages start (`FakeGoogle: no account with sub …`). */
  provider: string;
  /** The account field that keys the accounts; also names the key in error messages. */
  key: Key;
  /** Lifetime in seconds of the access tokens `issueTokens` issues unless told otherwise. */
  accessLifetime: number;
  /** Whether `issueTokens` adds a refresh token by default; false: never, whatever the options say. */
  refreshTokens: boolean;
  /** How the provider's tokens are spelled. */
  mint: TokenMint;
}

/** Base of the provider fakes: a `Simulator` that also holds accounts and issued tokens. */
export abstract class ProviderSimulator<Account extends Record<Key, string>, Key extends string> extends Simulator {
  /** Accounts by their key field. */
  protected readonly accounts = new Map<string, Account>();
  protected readonly book: TokenBook;

  /** Every token this provider has issued, renewals and rotations included (for secret-leak tests). */
  issuedTokens(): string[] {
    return this.book.allTokens();
  }
  private readonly defaults: ProviderDefaults<Key>;

  protected constructor(defaults: ProviderDefaults<Key>) {
    super();
    this.defaults = defaults;
    this.book = new TokenBook(defaults.mint);
  }

  /** Adds (or replaces) an account, keyed by its key field. */
  addAccount(account: Account): void {
    this.accounts.set(account[this.defaults.key], account);
  }

  /**
   * Issues tokens as a completed consent would: an access token of the provider's default lifetime,
   * plus a refresh token when the provider issues them (unless `options.refresh` is false).
   * Throws for an account the fake does not know.
   */
  issueTokens(accountId: string, options: IssueOptions = {}): IssuedTokens {
    const { provider, key, accessLifetime, refreshTokens } = this.defaults;
    if (!this.accounts.has(accountId)) throw new Error(`${provider}: no account with ${key} ${accountId}`);
    return this.book.issue(accountId, options.expiresIn ?? accessLifetime, refreshTokens && (options.refresh ?? true));
  }

  /** Expires every access token of the account now. */
  expireAccessTokens(accountId: string): void {
    this.book.expireAccess(accountId);
  }

  /** Revokes the account's refresh tokens, as when the user withdraws the app's access. */
  revokeRefreshTokens(accountId: string): void {
    this.book.revokeRefresh(accountId);
  }
}
