/** A fixed-size buffer that keeps the newest `capacity` items (the charts' window). */
export class RingBuffer<T> {
  readonly #items: (T | undefined)[];
  #next = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    this.#items = new Array(capacity);
  }

  push(item: T): void {
    this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** Oldest first. */
  toArray(): T[] {
    const start = (this.#next - this.#size + this.capacity) % this.capacity;
    return Array.from({ length: this.#size }, (_, i) => this.#items[(start + i) % this.capacity] as T);
  }

  get size(): number {
    return this.#size;
  }
}
