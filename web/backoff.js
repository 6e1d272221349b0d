// Retry delays that grow: 0.5 s, 1 s, 2 s, ... up to `maxMs`, each spread by ±25 % so that many
// viewers that lost the server at the same moment do not all come back at the same moment.
export class Backoff {
  constructor({ initialMs = 500, maxMs = 15000 } = {}) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.attempt = 0;
  }
  next() {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }
  reset() {
    this.attempt = 0;
  }
}
