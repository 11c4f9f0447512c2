/** Keeps only the newest of overlapping requests: a refresh makes older answers stale. */
export class Generation {
  #current = 0;

  /** Starts a request; the function says whether it is still the newest. */
  next(): () => boolean {
    const mine = ++this.#current;
    return () => mine === this.#current;
  }
}
