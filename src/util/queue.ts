/**
 * A FIFO queue on a ring buffer: O(1) push and shift, and no reallocation
 * once it has grown to its working size (a burst of thousands of messages
 * per read is the normal case, so a queue that shrinks and regrows each time
 * costs allocations and copies).
 */
export class Queue<T> {
  private items: Array<T | undefined> = new Array(16);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count++;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return item;
  }

  /** Removes every item. */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.items[(this.head + i) & (this.items.length - 1)] = undefined;
    this.head = 0;
    this.count = 0;
  }

  /** Removes and returns every item. */
  drain(): T[] {
    const out: T[] = [];
    while (this.count > 0) out.push(this.shift() as T);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) & (this.items.length - 1)] as T;
  }

  /** Doubles the capacity (always a power of two), keeping the order. */
  private grow(): void {
    const old = this.items;
    const items = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.count; i++) items[i] = old[(this.head + i) & (old.length - 1)];
    this.items = items;
    this.head = 0;
  }
}
