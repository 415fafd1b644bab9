// The API key, when the service has keys: asked of the person after a 401, kept for the session
// (sessionStorage: gone when the tab closes), sent with every request. Several requests that meet
// a 401 together share one question. No DOM here: storage and the question are passed in.

export interface KeyStore {
  get(): string | null;
  set(key: string): void;
  clear(): void;
}

/** Asks the person for a key, saying why; null when they decline. */
export type AskForKey = (reason: string) => Promise<string | null>;

export class KeyGate {
  #asking: Promise<string | null> | null = null;

  constructor(
    private readonly store: KeyStore,
    private readonly ask: AskForKey,
  ) {}

  current(): string | null {
    return this.store.get();
  }

  /**
   * The key to try after `used` was refused: one that arrived since `used` was sent, or one the
   * person gives now (kept). Null when they decline.
   */
  next(used: string | null, reason: string): Promise<string | null> {
    const current = this.store.get();
    if (current !== null && current !== used) return Promise.resolve(current);
    this.#asking ??= this.ask(reason)
      .then((given) => {
        const key = given?.trim() || null;
        if (key !== null) this.store.set(key);
        return key;
      })
      .finally(() => {
        this.#asking = null;
      });
    return this.#asking;
  }

  forget(): void {
    this.store.clear();
  }
}

/** A KeyStore in memory (for tests, and when the browser refuses sessionStorage). */
export function memoryStore(initial: string | null = null): KeyStore {
  let key = initial;
  return {
    get: () => key,
    set: (value) => {
      key = value;
    },
    clear: () => {
      key = null;
    },
  };
}
