// The viewer page: the device list (devices.js), the player of the chosen device (player.js) on
// the shared canvas (screen.js), the overlay, buttons and stream settings.
//
// URL parameters: ?device=<id> opens that device; ?token=<viewer token> is sent as a bearer
// token with WHEP requests (docs/protocol.md, "Signaling"); ?ice-transport-policy=relay makes
// the page's peer connection use TURN relays only (RTCIceTransportPolicy "relay").
//
// For tests, window.cellrtcViewer offers read-only numbers (stats(), devices(), and for
// benchmarks frames(from) and timing(): per-frame capture, arrival and paint times) and one
// knob, setDecodeDelay(ms), that slows the decoder down; nothing of it shows on the page.

import { DeviceDirectory } from './devices.js';
import { Player } from './player.js';
import { Screen } from './screen.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let token = params.get('token') || '';
const iceTransportPolicy = params.get('ice-transport-policy') === 'relay' ? 'relay' : 'all';
let player = null;
let renderQueued = false;
let lastDecoderError = null;

const screen = new Screen($('screen'), {
  onDrawn: (m) => {
    if (player && m.tag === player.tag) player.onDrawn(m);
  },
  onError: (text) => {
    lastDecoderError = text;
  },
});

const directory = new DeviceDirectory({
  onChange: (devices) => {
    renderDevices(devices);
    // The device came back: do not wait for the retry timer.
    const d = player && devices.get(player.deviceId);
    if (d && d.state === 'live') player.nudge();
  },
  onConnection: ({ error }) => {
    $('connection').textContent = error || '';
  },
});

// --- device list ------------------------------------------------------------------------------

function describeDevice(d) {
  const parts = [d.state || (d.online ? 'live' : 'offline')];
  if (d.state === 'live') {
    if (Number.isFinite(d.fps)) parts.push(`${d.fps.toFixed(1)} fps`);
    if (Number.isFinite(d.viewers)) parts.push(`${d.viewers} watching`);
  }
  return parts.join(' · ');
}

function renderDevices(devices) {
  const list = $('device-list');
  const items = [];
  for (const d of [...devices.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.device = d.id;
    if (player && player.deviceId === d.id) button.setAttribute('aria-current', 'true');
    const name = document.createElement('span');
    name.textContent = d.id;
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = describeDevice(d);
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.dataset.state = d.state || 'offline';
    badge.textContent = d.state || 'offline';
    name.append(' ', badge);
    button.append(name, meta);
    button.addEventListener('click', () => watch(d.id));
    li.append(button);
    items.push(li);
  }
  list.replaceChildren(...items);
  $('devices-empty').hidden = items.length > 0;
}

// --- player -----------------------------------------------------------------------------------

function watch(deviceId) {
  if (player && player.deviceId === deviceId && !player.fatal) return;
  if (player) player.stop();
  screen.clear();
  lastDecoderError = null;
  $('player').hidden = false;
  $('choose').hidden = true;
  $('player-device').textContent = deviceId;
  $('control-status').textContent = '';
  const url = new URL(location.href);
  url.searchParams.set('device', deviceId);
  history.replaceState(null, '', url);
  player = new Player({
    deviceId,
    token,
    iceTransportPolicy,
    screen,
    onChange: queueRender,
    onSnapshotFrame: ({ jpeg, seq }) => saveJpeg(jpeg, `${deviceId}-snapshot-${seq}.jpg`),
  });
  player.start();
  renderDevices(directory.devices);
  queueRender();
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderPlayer();
  });
  // requestAnimationFrame does not run in a hidden tab; the numbers there can wait.
}

const fmt = (value, digits, unit) =>
  value === null || value === undefined || !Number.isFinite(value)
    ? '—'
    : `${value.toFixed(digits)}${unit}`;

function renderPlayer() {
  if (!player) return;
  const s = player.stats();
  const badge = $('badge');
  badge.dataset.state = s.state;
  badge.textContent = s.state;
  $('o-fps').textContent = s.framesDrawn > 0 ? fmt(s.fps, 1, '') : '—';
  $('o-kbps').textContent = s.framesReceived > 0 ? fmt(s.kbps, 0, ' kbit/s') : '—';
  $('o-latency').textContent = fmt(s.latencyMs, 0, ' ms');
  $('o-path').textContent =
      s.path ? [s.path, s.transport, s.candidateType].filter(Boolean).join(' · ') : '—';
  $('o-rtt').textContent = fmt(s.rttMs, 0, ' ms');
  $('o-age').textContent = fmt(s.ageMs, 0, ' ms');
  $('o-seq').textContent = s.lastSeq === null ? '—' : String(s.lastSeq);
  $('o-dropped').textContent =
      s.framesReceived > 0 ? `${s.framesSkipped} skipped, ${s.framesMissing} missing` : '—';

  const notice = $('notice');
  const text = player.notice() || lastDecoderError;
  notice.hidden = !text;
  notice.textContent = text || '';
  notice.dataset.kind = s.state === 'error' ? 'error' : 'warn';
  $('token-form').hidden = !(s.error && s.error.kind === 'denied');

  const status = $('control-status');
  if (s.controlError) {
    status.textContent = `The server refused: ${s.controlError}`;
    status.dataset.kind = 'error';
  }
  renderTelemetry(s.telemetry);
}

function renderTelemetry(t) {
  const modem = t && t.modem && typeof t.modem === 'object' ? t.modem : null;
  $('signal').hidden = !modem;
  if (modem) {
    const bars = Math.max(0, Math.min(5, Math.round(Number(modem.bars) || 0)));
    const icons = $('signal-bars').children;
    for (let i = 0; i < icons.length; ++i) icons[i].classList.toggle('on', i < bars);
    const rssi = Number.isFinite(modem.rssi_dbm) ? `, ${modem.rssi_dbm} dBm` : '';
    $('signal-bars').setAttribute('aria-label', `Signal ${bars} of 5 bars${rssi}`);
    $('signal-operator').textContent =
        [modem.operator, modem.tech].filter((x) => typeof x === 'string' && x).join(' ');
  }
  renderHealth(t && t.device && typeof t.device === 'object' ? t.device : null);
  const parts = [];
  if (t) {
    if (Number.isFinite(t.fps)) parts.push(`${t.fps.toFixed(1)} fps sent`);
    if (Number.isFinite(t.kbps)) parts.push(`${Math.round(t.kbps)} kbit/s`);
    if (Number.isFinite(t.quality)) parts.push(`quality ${t.quality}`);
    if (Number.isFinite(t.width) && Number.isFinite(t.height)) parts.push(`${t.width}×${t.height}`);
    if (Number.isFinite(t.rtt_ms)) parts.push(`RTT ${Math.round(t.rtt_ms)} ms`);
    if (Number.isFinite(t.dropped)) parts.push(`${t.dropped} dropped at the device`);
  }
  $('device-telemetry').textContent = parts.length ? `Device: ${parts.join(', ')}` : '';
}

// Bytes as the page shows them: "181 KB", "7.9 MB" (1 KB = 1000 bytes, as heap figures are read).
function formatBytes(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} KB`;
  return `${Math.round(n)} B`;
}

// The telemetry's `device` object (docs/protocol.md: internal RAM free, its low-water mark, PSRAM
// free; microcontrollers only): beside the signal bars, hidden when the device sends none.
function renderHealth(device) {
  const count = (x) => Number.isFinite(x) && x >= 0;
  const shown = device && count(device.heap_free);
  $('health').hidden = !shown;
  if (!shown) return;
  $('h-heap').textContent = formatBytes(device.heap_free);
  $('h-heap-min-row').hidden = !count(device.heap_min_free);
  if (count(device.heap_min_free)) $('h-heap-min').textContent = formatBytes(device.heap_min_free);
  $('h-psram-row').hidden = !count(device.psram_free);
  if (count(device.psram_free)) $('h-psram').textContent = formatBytes(device.psram_free);
}

// --- buttons and settings ---------------------------------------------------------------------

function saveJpeg(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'image/jpeg' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function say(text, kind = 'info') {
  const status = $('control-status');
  status.textContent = text;
  status.dataset.kind = kind;
}

$('download-snapshot').addEventListener('click', async () => {
  if (!player) return;
  const shot = await screen.snapshot();
  if (!shot) {
    say('No frame on screen yet.', 'error');
    return;
  }
  saveJpeg(shot.jpeg, `${player.deviceId}-${shot.seq}.jpg`);
});

$('request-snapshot').addEventListener('click', () => {
  if (!player) return;
  if (player.requestSnapshot()) say('Snapshot requested; it downloads when it arrives.');
  else say('Not connected.', 'error');
});

$('fullscreen').addEventListener('click', () => {
  const stage = $('stage');
  if (document.fullscreenElement) document.exitFullscreen();
  else if (stage.requestFullscreen) stage.requestFullscreen().catch(() => {});
});

$('controls').addEventListener('submit', (event) => {
  event.preventDefault();
  if (!player) return;
  const clamp = (v, max) => Math.max(0, Math.min(max, Math.round(Number(v) || 0)));
  const [width, height] = $('c-resolution').value.split('x').map(Number);
  const message = {
    type: 'set',
    fps: clamp($('c-fps').value, 60),
    quality: clamp($('c-quality').value, 100),
    width,
    height,
  };
  if (player.sendControl(message)) {
    player.controlError = null;
    say('Settings sent.');
  } else {
    say('Not connected.', 'error');
  }
});

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token-input').value.trim();
  if (!player || !token) return;
  const id = player.deviceId;
  player.stop();
  player = null;
  watch(id);
});

// Leaving the page ends the session at the server at once (the DELETE goes out with keepalive).
window.addEventListener('pagehide', () => {
  if (player) player.stop();
  directory.stop();
});

// --- test hooks -------------------------------------------------------------------------------

window.cellrtcViewer = Object.freeze({
  stats: () => (player ? player.stats() : { state: 'idle', framesReceived: 0, framesDrawn: 0 }),
  devices: () => [...directory.devices.values()].map((d) => ({ ...d })),
  frames: (from) => (player ? player.frames(Number(from) || 0) : { next: 0, lost: 0, frames: [] }),
  timing: () => (player ? player.timing() : null),
  setDecodeDelay: (ms) => screen.setDecodeDelay(ms),
});

directory.start();
const wanted = params.get('device');
if (wanted) watch(wanted);
