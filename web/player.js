// One device's stream: a WHEP session with cellrtc-server (an RTCPeerConnection offering the
// `video` and `control` channels of docs/protocol.md), frames handed to the shared Screen, the
// control channel's messages (state, clock, telemetry, pong, error), the numbers of the overlay,
// and a new session with backoff whenever the connection to the server is lost.

import { Backoff } from './backoff.js';
import { FLAG_SNAPSHOT, parseFrameHeader } from './frame-header.js';
import { whepDelete, whepOffer, WhepError } from './whep.js';

const GATHER_MS = 2000;            // ICE gathering, then the offer goes out with what it has
const DISCONNECTED_GRACE_MS = 5000;  // 'disconnected' may heal by itself; after that, a new session
const PING_INTERVAL_MS = 2000;
const FIRST_PINGS_MS = [0, 250, 500];  // a few quick ones so the latency shows early
const MAX_CONTROL_BYTES = 4096;    // docs/protocol.md: a control message is at most 4096 bytes
const RING_SIZE = 2048;            // sequence numbers kept for the test hooks
const FRAME_LOG_SIZE = 4096;       // per-frame records kept for the test hooks (frames())
const REORDER_WINDOW = 64;         // how far back an older frame counts as late, not a new stream
const RATE_WINDOW_MS = 2000;       // fps and bit rate over the last two seconds
const STATE_HISTORY = 64;
const PATH_STATS_MS = 1000;        // how often the selected candidate pair is looked at

const wallMs = () => performance.timeOrigin + performance.now();

// The newest `size` values pushed.
class Ring {
  constructor(size) {
    this.size = size;
    this.values = [];
  }
  push(value) {
    this.values.push(value);
    if (this.values.length > this.size * 2) this.values.splice(0, this.values.length - this.size);
  }
  toArray() {
    return this.values.slice(-this.size);
  }
}

async function iceServers() {
  try {
    const response = await fetch('/api/ice-servers', { cache: 'no-store' });
    if (!response.ok) return [];
    const body = await response.json();
    return Array.isArray(body.iceServers) ? body.iceServers : [];
  } catch {
    return [];  // no TURN then; direct UDP to the server may still work
  }
}

function gathered(pc, ms) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const timer = setTimeout(resolve, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

let nextPlayerTag = 1;

export class Player {
  // screen: the shared Screen. onChange(): something shown changed. onSnapshotFrame({jpeg, seq}):
  // the full-quality frame asked for with requestSnapshot() arrived.
  constructor({ deviceId, token, iceTransportPolicy = 'all', screen, onChange, onSnapshotFrame }) {
    this.deviceId = deviceId;
    this.token = token;
    this.iceTransportPolicy = iceTransportPolicy;  // 'all' | 'relay' (TURN only)
    this.screen = screen;
    this.onChange = onChange;
    this.onSnapshotFrame = onSnapshotFrame;
    this.tag = nextPlayerTag++;  // tells this player's frames from an earlier player's
    this.backoff = new Backoff({ initialMs: 500, maxMs: 15000 });
    this.session = null;         // {pc, video, control, url, timers...}
    this.retryTimer = null;
    this.retryAt = 0;
    this.stopped = false;
    this.fatal = null;           // a WhepError that retrying will not fix (denied, unknown)
    this.lastError = null;       // the latest reason a session ended or did not start
    this.deviceState = null;     // from the control channel: live, reconnecting, offline
    this.hadSession = false;
    this.sessions = 0;           // sessions that reached an open control channel
    this.telemetry = null;
    this.controlError = null;
    this.snapshotWanted = false;
    // Clock: device minus server (from `clock`), viewer minus server (own ping/pong).
    this.deviceOffsetUs = null;
    this.viewerOffsetUs = null;
    this.pingSamples = [];       // {rttUs, offsetUs}, the latest few
    this.pingsSent = new Map();  // t -> sent at (viewer clock, µs)
    this.nextPing = 1;
    // Frames.
    this.framesReceived = 0;
    this.framesDrawn = 0;
    this.framesStale = 0;        // arrived after a newer one (unordered channel): not shown
    this.framesMissing = 0;      // gaps in the sequence
    this.badFrames = 0;
    this.bytesReceived = 0;
    this.skipped = 0;            // replaced while waiting for the decoder (newest wins)
    this.lastArrived = null;     // {seq, captureUs} of the newest frame that arrived
    this.lastDrawn = null;       // the worker's report of the frame on screen
    this.latencyMs = null;
    this.receivedSeqs = new Ring(RING_SIZE);
    this.drawnSeqs = new Ring(RING_SIZE);
    // For tests and benchmarks (frames(), timing()): one record per frame drawn, numbered from
    // 0, the newest FRAME_LOG_SIZE kept; times in ms on the wall clock.
    this.frameLog = [];
    this.frameLogNext = 0;       // the number the next record gets
    this.firstFrameArrivedAt = null;
    this.firstFrameDrawnAt = null;
    this.startedAt = null;
    this.postedAt = null;        // the latest WHEP POST
    this.rateSamples = [];
    this.fps = 0;
    this.kbps = 0;
    this.stateHistory = [];
    // The stream's path (docs/protocol.md, "Direct mode"): relay or direct, the transport of the
    // selected candidate pair and its round-trip time, from getStats().
    this.path = null;            // 'relay' | 'direct'
    // 'UDP', 'TCP', 'TURN-UDP', 'TURN-TCP', 'TURN-TLS' (our own relay), or 'TURN (device)' when
    // only the far end's candidate is relayed (a direct device behind carrier NAT).
    this.transport = null;
    this.candidateType = null;   // host, srflx, prflx, relay (the local candidate's)
    this.remoteCandidateType = null;  // the same of the remote candidate
    this.rttMs = null;
    this.forceRelay = false;     // a direct connection did not come up: the relay from now on
    this.recordState();
    this.rateTimer = setInterval(() => this.sampleRates(), 500);
  }

  // --- lifecycle ---------------------------------------------------------------------------

  start() {
    this.startedAt = wallMs();
    this.connect();
  }

  // Leaves: DELETE the session, close the connection, forget the timers.
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.rateTimer);
    this.teardown(true);
    this.changed();
  }

  // Tries at once if a retry is waiting (the device list says the device came back).
  nudge() {
    if (this.stopped || this.fatal || this.session || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  async connect() {
    if (this.stopped) return;
    this.retryTimer = null;
    const session = {
      pc: null, video: null, control: null, url: null, timers: [], frames: 0, path: null,
    };
    this.session = session;
    this.changed();
    const current = () => this.session === session && !this.stopped;

    const servers = await iceServers();
    if (!current()) return;
    const pc = new RTCPeerConnection({
      iceServers: servers, iceTransportPolicy: this.iceTransportPolicy,
    });
    session.pc = pc;
    // docs/protocol.md, "Data channels of a session": the viewer offers both channels.
    const video = pc.createDataChannel('video', { ordered: false, maxRetransmits: 0 });
    video.binaryType = 'arraybuffer';
    const control = pc.createDataChannel('control');
    session.video = video;
    session.control = control;

    video.addEventListener('message', (e) => current() && this.onFrame(e.data));
    control.addEventListener('message', (e) => current() && this.onControl(e.data));
    control.addEventListener('open', () => current() && this.onControlOpen(session));
    for (const channel of [video, control]) {
      channel.addEventListener('close', () => {
        if (current()) this.lose(`the ${channel.label} channel closed`);
      });
    }
    pc.addEventListener('connectionstatechange', () => {
      if (!current()) return;
      const state = pc.connectionState;
      if (state === 'failed' || state === 'closed') {
        this.lose(`connection ${state}`);
      } else if (state === 'disconnected') {
        clearTimeout(session.disconnectTimer);
        session.disconnectTimer = setTimeout(() => {
          if (current() && pc.connectionState === 'disconnected') this.lose('connection lost');
        }, DISCONNECTED_GRACE_MS);
      } else if (state === 'connected') {
        session.connected = true;
        clearTimeout(session.disconnectTimer);
      }
    });

    try {
      await pc.setLocalDescription(await pc.createOffer());
      // The whole offer in one POST: the server does not need trickle from us.
      await gathered(pc, GATHER_MS);
      if (!current()) return;
      this.postedAt = wallMs();
      const { answerSdp, location, path, directTimeoutMs } = await whepOffer(
          this.deviceId, pc.localDescription.sdp, this.token, { relay: this.forceRelay });
      if (!current()) {
        whepDelete(location, this.token);
        return;
      }
      session.url = location;
      session.path = path;
      this.path = path;
      this.transport = this.candidateType = this.remoteCandidateType = this.rttMs = null;
      await pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
      session.pathTimer = setInterval(() => current() && this.samplePath(session), PATH_STATS_MS);
      session.directFallback = directTimeoutMs !== null;
      if (directTimeoutMs !== null) {
        // direct-then-relay: a direct connection that is not up in time gives way to the relay.
        session.timers.push(setTimeout(() => {
          if (current() && pc.connectionState !== 'connected') {
            this.forceRelay = true;
            this.teardown(true);
            this.connect();
          }
        }, directTimeoutMs));
      }
    } catch (e) {
      if (!current()) return;
      const error = e instanceof WhepError ? e : new WhepError('failed', e.message);
      this.teardown(true);
      this.lastError = error;
      if (error.retryable) {
        this.scheduleRetry();
      } else {
        this.fatal = error;
        this.changed();
      }
    }
  }

  // The session is gone: tear it down and start another one after a while.
  lose(reason) {
    const session = this.session;
    // direct-then-relay: a direct connection that never came up is not tried again.
    if (session && session.directFallback && !session.connected) this.forceRelay = true;
    this.teardown(true);
    this.lastError = new WhepError('lost', `connection to the server lost (${reason})`);
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.retryAt = performance.now() + delay;
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.changed();
  }

  teardown(sendDelete) {
    const session = this.session;
    this.session = null;
    if (!session) return;
    clearTimeout(session.disconnectTimer);
    clearInterval(session.pingTimer);
    clearInterval(session.pathTimer);
    for (const t of session.timers) clearTimeout(t);
    if (sendDelete) whepDelete(session.url, this.token);
    if (session.pc) session.pc.close();
    this.pingsSent.clear();
  }

  // The selected candidate pair (RTCTransportStats.selectedCandidatePairId, else the nominated
  // succeeded pair): the local candidate's type and protocol say UDP, TCP or TURN over what;
  // currentRoundTripTime is the pair's RTT from the STUN consent checks.
  async samplePath(session) {
    let report;
    try {
      report = await session.pc.getStats();
    } catch {
      return;
    }
    if (this.session !== session) return;
    let pair = null;
    report.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        pair = report.get(s.selectedCandidatePairId) || pair;
      }
    });
    if (!pair) {
      report.forEach((s) => {
        if (!pair && s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
      });
    }
    if (!pair) return;
    const local = report.get(pair.localCandidateId);
    const remote = report.get(pair.remoteCandidateId);
    this.remoteCandidateType = (remote && remote.candidateType) || null;
    if (local) {
      const protocol = String(local.protocol || '').toUpperCase();
      this.candidateType = local.candidateType || null;
      if (local.candidateType === 'relay') {
        this.transport = `TURN-${String(local.relayProtocol || 'udp').toUpperCase()}`;
      } else if (this.remoteCandidateType === 'relay') {
        // The device's TURN server relays; how the device reaches it, the browser cannot see.
        this.transport = 'TURN (device)';
      } else {
        this.transport = protocol || null;
      }
    }
    if (Number.isFinite(pair.currentRoundTripTime)) this.rttMs = pair.currentRoundTripTime * 1000;
    this.changed();
  }

  // --- control channel ----------------------------------------------------------------------

  onControlOpen(session) {
    this.backoff.reset();
    this.hadSession = true;
    ++this.sessions;
    this.lastError = null;
    this.controlError = null;
    // A new session may carry a new stream: sequence numbers start over.
    this.lastArrived = null;
    for (const ms of FIRST_PINGS_MS) session.timers.push(setTimeout(() => this.ping(), ms));
    session.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.changed();
  }

  // Sends a control message; false when there is no open control channel.
  sendControl(message) {
    const control = this.session && this.session.control;
    if (!control || control.readyState !== 'open') return false;
    control.send(JSON.stringify(message));
    return true;
  }

  ping() {
    const t = this.nextPing++;
    if (this.sendControl({ type: 'ping', t })) {
      this.pingsSent.set(t, wallMs() * 1000);
      if (this.pingsSent.size > 16) this.pingsSent.delete(this.pingsSent.keys().next().value);
    }
  }

  onControl(data) {
    if (typeof data !== 'string' || data.length > MAX_CONTROL_BYTES) return;
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'state':
        if (['live', 'reconnecting', 'offline'].includes(m.state)) {
          // The device's stream may start over (a restarted device numbers from its start).
          if (m.state !== this.deviceState) this.lastArrived = null;
          this.deviceState = m.state;
        }
        break;
      case 'clock':
        if (Number.isFinite(m.offset_us)) this.deviceOffsetUs = m.offset_us;
        break;
      case 'telemetry':
        this.telemetry = m;
        break;
      case 'pong':
        this.onPong(m);
        break;
      case 'error':
        this.controlError = typeof m.reason === 'string' ? m.reason.slice(0, 300) : 'refused';
        break;
      default:
        return;  // unknown types: nothing to do (docs/protocol.md)
    }
    this.changed();
  }

  // Viewer minus server clock from a ping's round trip: the server read its clock about halfway
  // through. The sample with the shortest round trip of the latest eight is the least skewed.
  onPong(m) {
    const sentUs = this.pingsSent.get(m.t);
    if (sentUs === undefined || !Number.isFinite(m.now_us)) return;
    this.pingsSent.delete(m.t);
    const receivedUs = wallMs() * 1000;
    const rttUs = receivedUs - sentUs;
    this.pingSamples.push({ rttUs, offsetUs: (sentUs + receivedUs) / 2 - m.now_us });
    if (this.pingSamples.length > 8) this.pingSamples.shift();
    let best = this.pingSamples[0];
    for (const s of this.pingSamples) if (s.rttUs < best.rttUs) best = s;
    this.viewerOffsetUs = best.offsetUs;
  }

  // --- frames -------------------------------------------------------------------------------

  onFrame(buffer) {
    if (!(buffer instanceof ArrayBuffer)) return;
    ++this.framesReceived;
    ++this.session.frames;
    this.bytesReceived += buffer.byteLength;
    let header;
    try {
      header = parseFrameHeader(buffer);
    } catch {
      ++this.badFrames;
      return;
    }
    this.receivedSeqs.push(header.seq);
    const last = this.lastArrived;
    // The channel is unordered: a frame older than the newest one is late, not shown. A much
    // lower number, or a lower one captured later, is a new stream (the device restarted).
    if (last && header.seq <= last.seq && last.seq - header.seq < REORDER_WINDOW &&
        header.captureUs <= last.captureUs) {
      ++this.framesStale;
      return;
    }
    if (last && header.seq > last.seq + 1 && header.seq - last.seq < 1e6) {
      this.framesMissing += header.seq - last.seq - 1;
    }
    this.lastArrived = { seq: header.seq, captureUs: header.captureUs };
    const arrivedAt = wallMs();
    if (this.firstFrameArrivedAt === null) this.firstFrameArrivedAt = arrivedAt;
    if ((header.flags & FLAG_SNAPSHOT) && this.snapshotWanted) {
      this.snapshotWanted = false;
      this.onSnapshotFrame({ jpeg: new Uint8Array(buffer.slice(header.jpegOffset)),
                             seq: header.seq });
    }
    this.screen.show(buffer, { ...header, tag: this.tag, arrivedAt });
  }

  // The worker drew one of this player's frames.
  onDrawn(m) {
    ++this.framesDrawn;
    this.drawnSeqs.push(m.seq);
    this.skipped = m.skipped;
    this.lastDrawn = m;
    if (this.firstFrameDrawnAt === null) this.firstFrameDrawnAt = m.displayedAt;
    this.frameLog.push({
      n: this.frameLogNext++, seq: m.seq, captureUs: m.captureUs, bytes: m.bytes,
      width: m.width, height: m.height, quality: m.quality, arrivedAt: m.arrivedAt,
      displayedAt: m.displayedAt,
    });
    if (this.frameLog.length > FRAME_LOG_SIZE * 2) {
      this.frameLog.splice(0, this.frameLog.length - FRAME_LOG_SIZE);
    }
    if (this.deviceOffsetUs !== null && this.viewerOffsetUs !== null) {
      // docs/protocol.md: display_time - (capture_us - clock.offset_us + viewer_offset)
      this.latencyMs =
          (m.displayedAt * 1000 - (m.captureUs - this.deviceOffsetUs + this.viewerOffsetUs)) / 1000;
    }
  }

  // The age of the frame on screen: now minus its capture time on the viewer's clock.
  frameAgeMs() {
    if (!this.lastDrawn || this.deviceOffsetUs === null || this.viewerOffsetUs === null) {
      return null;
    }
    const capturedUs = this.lastDrawn.captureUs - this.deviceOffsetUs + this.viewerOffsetUs;
    return (wallMs() * 1000 - capturedUs) / 1000;
  }

  sampleRates() {
    const t = performance.now();
    this.rateSamples.push({ t, drawn: this.framesDrawn, bytes: this.bytesReceived });
    while (this.rateSamples.length > 2 && t - this.rateSamples[1].t >= RATE_WINDOW_MS) {
      this.rateSamples.shift();
    }
    const first = this.rateSamples[0];
    const span = t - first.t;
    if (span >= 900) {
      this.fps = ((this.framesDrawn - first.drawn) * 1000) / span;
      this.kbps = ((this.bytesReceived - first.bytes) * 8) / span;  // bits per ms = kbit/s
    }
    this.changed();
  }

  // Asks the device for one full-quality frame; onSnapshotFrame gets it.
  requestSnapshot() {
    if (!this.sendControl({ type: 'snapshot' })) return false;
    this.snapshotWanted = true;
    return true;
  }

  // --- what the page shows ------------------------------------------------------------------

  // live | reconnecting | offline (the device's, once a session is up), connecting, error
  state() {
    if (this.fatal) return 'error';
    if (this.session && this.session.control && this.session.control.readyState === 'open') {
      // Frames before any `state` message: the device is evidently live.
      return this.deviceState || (this.session.frames > 0 ? 'live' : 'connecting');
    }
    if (this.retryTimer) return 'reconnecting';
    return this.hadSession ? 'reconnecting' : 'connecting';
  }

  // A sentence for the viewer, or null when all is well.
  notice() {
    const retryIn = () => Math.max(0, (this.retryAt - performance.now()) / 1000).toFixed(0);
    if (this.fatal) {
      switch (this.fatal.kind) {
        case 'denied':
          return `Access denied: this device needs a viewer token (${this.fatal.message}).`;
        case 'unknown':
          return `Unknown device “${this.deviceId}”: the server has no such device.`;
        default:
          return `Cannot watch this device: ${this.fatal.message}`;
      }
    }
    if (this.retryTimer && this.lastError) {
      switch (this.lastError.kind) {
        case 'busy':
          return `The server is busy (${this.lastError.message}); trying again in ${retryIn()} s.`;
        case 'unreachable':
          return `The server is unreachable; trying again in ${retryIn()} s.`;
        default:
          return `${this.lastError.message}; trying again in ${retryIn()} s.`;
      }
    }
    if (this.state() === 'reconnecting') {
      return 'The device lost its connection; waiting for it to come back.';
    }
    if (this.state() === 'offline') return 'The device is offline.';
    return null;
  }

  changed() {
    const state = this.state();
    const last = this.stateHistory[this.stateHistory.length - 1];
    if (!last || last.state !== state) this.recordState();
    this.onChange();
  }

  recordState() {
    this.stateHistory.push({ state: this.state(), at: Math.round(performance.now()) });
    if (this.stateHistory.length > STATE_HISTORY) this.stateHistory.shift();
  }

  // Records of the frames drawn, numbered `from` and later (those still kept), and the number
  // to ask from next time.
  frames(from = 0) {
    const first = this.frameLog.length ? this.frameLog[0].n : this.frameLogNext;
    const start = Math.max(0, Math.min(this.frameLog.length, from - first));
    return {
      next: this.frameLogNext,
      lost: Math.max(0, first - from),  // asked for, no longer kept
      frames: this.frameLog.slice(start).map((f) => ({ ...f })),
    };
  }

  // When this player started, its first frame arrived and was drawn (wall-clock ms).
  timing() {
    return {
      startedAt: this.startedAt,
      postedAt: this.postedAt,
      firstFrameArrivedAt: this.firstFrameArrivedAt,
      firstFrameDrawnAt: this.firstFrameDrawnAt,
    };
  }

  stats() {
    return {
      device: this.deviceId,
      state: this.state(),
      states: this.stateHistory.map((s) => ({ ...s })),
      sessions: this.sessions,
      framesReceived: this.framesReceived,
      framesDrawn: this.framesDrawn,
      framesSkipped: this.skipped,
      framesStale: this.framesStale,
      framesMissing: this.framesMissing,
      badFrames: this.badFrames,
      bytesReceived: this.bytesReceived,
      lastSeq: this.lastDrawn ? this.lastDrawn.seq : null,
      seqs: this.drawnSeqs.toArray(),
      receivedSeqs: this.receivedSeqs.toArray(),
      fps: this.fps,
      kbps: this.kbps,
      latencyMs: this.latencyMs,
      path: this.path,
      transport: this.transport,
      candidateType: this.candidateType,
      remoteCandidateType: this.remoteCandidateType,
      iceTransportPolicy: this.iceTransportPolicy,
      rttMs: this.rttMs,
      ageMs: this.frameAgeMs(),
      clockKnown: this.deviceOffsetUs !== null && this.viewerOffsetUs !== null,
      width: this.lastDrawn ? this.lastDrawn.width : null,
      height: this.lastDrawn ? this.lastDrawn.height : null,
      quality: this.lastDrawn ? this.lastDrawn.quality : null,
      telemetry: this.telemetry,
      controlError: this.controlError,
      error: this.fatal ? { kind: this.fatal.kind, message: this.fatal.message } : null,
    };
  }
}
