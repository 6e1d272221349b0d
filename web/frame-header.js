// The header in front of every frame on the `video` data channel (docs/protocol.md, "Video
// channel"): 24 bytes for version 1, then one whole JPEG image. All integers big-endian.
//
//   0 version (1) · 1 flags · 2 header length · 4 sequence u32 · 8 capture time µs u64
//   16 width u16 · 18 height u16 · 20 JPEG quality u8 · 21 reserved
//
// Shared by the page and the decode worker.

export const FRAME_VERSION = 1;
export const FRAME_HEADER_V1_BYTES = 24;
export const FLAG_SNAPSHOT = 1 << 0;
export const FLAG_TEST_PATTERN = 1 << 1;

// The header of `buffer` (an ArrayBuffer holding one message), or throws an Error saying what is
// wrong. `jpegOffset` is where the image starts: a longer header of a later revision is skipped.
export function parseFrameHeader(buffer) {
  if (!(buffer instanceof ArrayBuffer)) throw new Error('frame is not binary');
  if (buffer.byteLength < FRAME_HEADER_V1_BYTES) {
    throw new Error(`frame of ${buffer.byteLength} bytes is shorter than its header`);
  }
  const view = new DataView(buffer);
  const version = view.getUint8(0);
  if (version !== FRAME_VERSION) throw new Error(`unknown frame version ${version}`);
  const headerLength = view.getUint16(2);
  if (headerLength < FRAME_HEADER_V1_BYTES || headerLength >= buffer.byteLength) {
    throw new Error(`bad header length ${headerLength} in a frame of ${buffer.byteLength} bytes`);
  }
  return {
    version,
    flags: view.getUint8(1),
    seq: view.getUint32(4),
    // Microseconds fit a double exactly for 285 years of uptime (2^53 µs).
    captureUs: Number(view.getBigUint64(8)),
    width: view.getUint16(16),
    height: view.getUint16(18),
    quality: view.getUint8(20),
    jpegOffset: headerLength,
    jpegBytes: buffer.byteLength - headerLength,
  };
}

// Whether `bytes` (a Uint8Array) starts like a JPEG image (SOI marker FF D8).
export function looksLikeJpeg(bytes) {
  return bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8;
}
