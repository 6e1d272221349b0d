// The canvas frames are drawn on, and the worker that decodes and draws them (decode-worker.js
// says why drawing happens there). One per page: a canvas can hand its control over only once,
// so the player of every device shares it.

export class Screen {
  // onDrawn({seq, captureUs, flags, width, height, quality, displayedAt, arrivedAt, bytes,
  // skipped}), with times in ms on the wall clock (performance.timeOrigin + now()),
  // onError(text)
  constructor(canvas, { onDrawn, onError }) {
    this.worker = new Worker(new URL('./decode-worker.js', import.meta.url), { type: 'module' });
    const offscreen = canvas.transferControlToOffscreen();
    this.worker.postMessage({ type: 'canvas', canvas: offscreen }, [offscreen]);
    this.snapshots = new Map();  // request id -> resolve
    this.nextSnapshotId = 1;
    this.onDrawn = onDrawn;
    this.worker.onmessage = (event) => {
      const m = event.data;
      if (m.type === 'drawn') {
        onDrawn(m);
      } else if (m.type === 'snapshot') {
        const resolve = this.snapshots.get(m.id);
        this.snapshots.delete(m.id);
        if (resolve) resolve(m.jpeg ? { jpeg: new Uint8Array(m.jpeg), seq: m.seq } : null);
      } else if (m.type === 'error') {
        onError(m.message);
      }
    };
    this.worker.onerror = (event) => onError(`decoder: ${event.message || 'failed'}`);
  }

  // Hands the message over (transferred: `buffer` is empty afterwards).
  show(buffer, header) {
    this.worker.postMessage({ type: 'frame', buffer, header }, [buffer]);
  }

  clear() {
    this.worker.postMessage({ type: 'clear' });
  }

  // The JPEG bytes on screen: {jpeg: Uint8Array, seq} or null when nothing is shown.
  snapshot() {
    const id = this.nextSnapshotId++;
    return new Promise((resolve) => {
      this.snapshots.set(id, resolve);
      this.worker.postMessage({ type: 'snapshot', id });
    });
  }

  setDecodeDelay(ms) {
    this.worker.postMessage({ type: 'decodeDelay', ms });
  }
}
