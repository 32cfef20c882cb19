/**
 * Counted prefix subscriptions (RFC 29): subscribing to "A" twice takes two
 * cancels to undo; the empty topic matches everything; a message matches
 * when any subscribed topic is a prefix of its first frame.
 */
export class SubscriptionSet {
  private readonly counts = new Map<string, number>();
  private readonly topicsByKey = new Map<string, Buffer>();
  private everything = 0;

  get size(): number {
    return this.counts.size + (this.everything > 0 ? 1 : 0);
  }

  /** Adds one subscription; true when the topic was not subscribed before. */
  add(topic: Buffer): boolean {
    if (topic.length === 0) return ++this.everything === 1;
    const key = topic.toString("latin1");
    const count = this.counts.get(key) ?? 0;
    this.counts.set(key, count + 1);
    if (count === 0) this.topicsByKey.set(key, Buffer.from(topic));
    return count === 0;
  }

  /** Removes one subscription; true when it was the last one for the topic. */
  remove(topic: Buffer): boolean {
    if (topic.length === 0) {
      if (this.everything === 0) return false;
      return --this.everything === 0;
    }
    const key = topic.toString("latin1");
    const count = this.counts.get(key);
    if (count === undefined) return false;
    if (count > 1) {
      this.counts.set(key, count - 1);
      return false;
    }
    this.counts.delete(key);
    this.topicsByKey.delete(key);
    return true;
  }

  has(topic: Buffer): boolean {
    return topic.length === 0 ? this.everything > 0 : this.counts.has(topic.toString("latin1"));
  }

  matches(first: Buffer | undefined): boolean {
    if (this.everything > 0) return true;
    if (this.counts.size === 0 || first === undefined) return false;
    for (const topic of this.topicsByKey.values()) {
      if (topic.length <= first.length && first.compare(topic, 0, topic.length, 0, topic.length) === 0) return true;
    }
    return false;
  }

  /** Each distinct topic once (for re-sending on reconnect). */
  topics(): Buffer[] {
    const out = [...this.topicsByKey.values()];
    if (this.everything > 0) out.unshift(Buffer.alloc(0));
    return out;
  }
}
