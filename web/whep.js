// WHEP signaling with cellrtc-server (docs/protocol.md, "Signaling"): POST the offer to
// /whep/<device>, 201 with the answer and the session's Location; DELETE that Location to leave.
// Errors come as RFC 9457 problem details.

// Why a request failed, in terms the page can act on:
//   denied       401/403: the device needs a viewer token (or another one)
//   unknown      404: no such device
//   busy         429/503: too many requests, viewers or a server not ready (retry later)
//   unreachable  the server did not answer at all (retry later)
//   failed       anything else
export class WhepError extends Error {
  constructor(kind, message, status = 0) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
  get retryable() {
    return this.kind === 'busy' || this.kind === 'unreachable' ||
           (this.kind === 'failed' && this.status >= 500);
  }
}

const MAX_ANSWER_BYTES = 64 * 1024;

function authorization(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// The problem's own words (detail, else title), else the status line.
async function problemText(response) {
  try {
    const type = response.headers.get('Content-Type') || '';
    if (type.includes('json')) {
      const problem = await response.json();
      if (problem && (problem.detail || problem.title)) {
        return String(problem.detail || problem.title).slice(0, 300);
      }
    } else {
      const text = (await response.text()).trim();
      if (text) return text.slice(0, 300);
    }
  } catch {
    // the status alone then
  }
  return `${response.status} ${response.statusText}`.trim();
}

function kindOf(status) {
  if (status === 401 || status === 403) return 'denied';
  if (status === 404) return 'unknown';
  if (status === 429 || status === 503) return 'busy';
  return 'failed';
}

// Posts `offerSdp`; {answerSdp, location, path, directTimeoutMs} (location absolute) or throws
// a WhepError. path: 'direct' when the device answered itself (direct mode, docs/protocol.md),
// else 'relay'; directTimeoutMs: in direct-then-relay, how long the direct connection may take
// before the page asks for the relay instead (null otherwise). relay: ask for the relay.
export async function whepOffer(deviceId, offerSdp, token, { relay = false } = {}) {
  const url = `/whep/${encodeURIComponent(deviceId)}${relay ? '?path=relay' : ''}`;
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', ...authorization(token) },
      body: offerSdp,
      cache: 'no-store',
    });
  } catch (e) {
    throw new WhepError('unreachable', `server unreachable (${e.message})`);
  }
  if (response.status !== 201 && response.status !== 200) {
    throw new WhepError(kindOf(response.status), await problemText(response), response.status);
  }
  const answerSdp = await response.text();
  if (answerSdp.length > MAX_ANSWER_BYTES || !answerSdp.startsWith('v=0')) {
    throw new WhepError('failed', 'the server answered without an SDP answer', response.status);
  }
  const where = response.headers.get('Location');
  const path = response.headers.get('Cellrtc-Path') === 'direct' ? 'direct' : 'relay';
  const timeout = Number(response.headers.get('Cellrtc-Direct-Timeout'));
  return {
    answerSdp,
    location: where ? new URL(where, location.href).href : null,
    path,
    directTimeoutMs: path === 'direct' && timeout > 0 ? Math.min(timeout, 60000) : null,
  };
}

// Ends the session. keepalive lets it go out while the page unloads (pagehide). Never throws.
export function whepDelete(sessionUrl, token) {
  if (!sessionUrl) return;
  fetch(sessionUrl, { method: 'DELETE', headers: authorization(token), keepalive: true })
    .catch(() => {});  // the server drops the session on its own once ICE times out
}
