// Decodes and draws video frames off the page's main thread.
//
// The page hands over its canvas once (transferControlToOffscreen) and then every frame's
// ArrayBuffer (transferred, not copied). Why an OffscreenCanvas here rather than sending each
// ImageBitmap back to the page: the decoded image never crosses threads, so the main thread does
// no per-frame work beyond routing the message, and a busy page (layout, the overlay, a slow
// device list) cannot delay a frame; what comes back is a few numbers per frame for the overlay.
//
// Newest frame wins: one frame decodes at a time; a frame arriving meanwhile waits as the single
// pending one and is replaced (counted as skipped) by any later frame. Stale frames are never
// queued, so a slow decoder shows fewer frames, never older ones.
//
// The worker keeps the bytes of the frame on screen, so the page's snapshot button can save that
// very JPEG (no re-encoding).

let canvas = null;
let context = null;
let pending = null;     // {buffer, header}: the one frame waiting for the decoder
let decoding = false;
let onScreen = null;    // {buffer, header}: the frame drawn last
let skipped = 0;        // frames replaced while waiting
let decodeDelayMs = 0;  // test hook: an artificially slow decoder
let generation = 0;     // bumped by 'clear', so a decode in flight does not draw afterwards

const now = () => performance.timeOrigin + performance.now();  // ms, comparable across threads
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function drain() {
  decoding = true;
  while (pending) {
    const frame = pending;
    pending = null;
    const started = generation;
    const { header } = frame;
    let bitmap = null;
    try {
      const jpeg = new Uint8Array(frame.buffer, header.jpegOffset);
      bitmap = await createImageBitmap(new Blob([jpeg], { type: 'image/jpeg' }));
      if (decodeDelayMs > 0) await sleep(decodeDelayMs);
      if (started !== generation || !context) continue;
      if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
        canvas.width = bitmap.width;
        canvas.height = bitmap.height;
      }
      context.drawImage(bitmap, 0, 0);
      onScreen = frame;
      postMessage({
        type: 'drawn',
        tag: header.tag,  // whose frame: the page may have moved on to another device
        seq: header.seq,
        captureUs: header.captureUs,
        flags: header.flags,
        width: bitmap.width,
        height: bitmap.height,
        quality: header.quality,
        displayedAt: now(),
        arrivedAt: header.arrivedAt,  // the page's clock when the message arrived
        bytes: frame.buffer.byteLength,
        skipped,
      });
    } catch (e) {
      postMessage({ type: 'error', seq: header.seq, message: `frame ${header.seq}: ${e.message}` });
    } finally {
      if (bitmap) bitmap.close();
    }
  }
  decoding = false;
}

self.onmessage = (event) => {
  const m = event.data;
  switch (m.type) {
    case 'canvas':
      canvas = m.canvas;
      context = canvas.getContext('2d', { alpha: false });
      break;
    case 'frame':
      if (pending) ++skipped;
      pending = { buffer: m.buffer, header: m.header };
      if (!decoding) drain();
      break;
    case 'snapshot': {
      // A copy: the frame stays on screen and available for the next snapshot.
      const jpeg = onScreen ? onScreen.buffer.slice(onScreen.header.jpegOffset) : null;
      postMessage({ type: 'snapshot', id: m.id, seq: onScreen ? onScreen.header.seq : null, jpeg },
                  jpeg ? [jpeg] : []);
      break;
    }
    case 'clear':
      // A new session (another device, or the same one again): start over.
      ++generation;
      pending = null;
      skipped = 0;
      onScreen = null;
      if (context) {
        context.fillStyle = '#000';
        context.fillRect(0, 0, canvas.width, canvas.height);
      }
      break;
    case 'decodeDelay':
      decodeDelayMs = Math.max(0, Number(m.ms) || 0);
      break;
    default:
      break;
  }
};
