#!/usr/bin/env node
// One RTCPeerConnection inside a real browser (Debian's chromium or firefox-esr), driven over
// stdin/stdout with one JSON object per line. The same protocol is spoken by aiortc_peer.py.
//
//   node tests/interop/browser_peer.mjs --browser chromium|firefox [--timeout SECONDS]
//
//   out {"type":"ready","userAgent":UA}                       once the page is up
//   in  {"type":"create_offer","channels":[{"label":L,"ordered":true,"maxRetransmits":N,
//        "maxPacketLifeTime":MS,"negotiated":false,"id":N,"protocol":P}],"trickle":false}
//   out {"type":"offer","sdp":SDP}
//   in  {"type":"offer","sdp":SDP,"trickle":false}           (the browser answers)
//   out {"type":"answer","sdp":SDP}
//   in  {"type":"answer","sdp":SDP}
//   in  {"type":"candidate","candidate":"candidate:...","sdpMid":"0"}, {"type":"end_of_candidates"}
//   out {"type":"candidate","candidate":"candidate:...","sdpMid":"0"}, {"type":"end_of_candidates"}
//   out {"type":"state","ice":S,"connection":S,"dtls":S}       on every change
//   out {"type":"channel_open","label":L,"id":N}
//   in  {"type":"send","label":L,"data":TEXT} or {"type":"send","label":L,"hex":HEX}  (binary)
//   out {"type":"message","label":L,"data":TEXT} or {"type":"message","label":L,"hex":HEX}
//   in  {"type":"create_channel","channel":{"label":L,...}}  a channel at any time (after the
//        connection: opened in-band by DCEP; "negotiated":true with "id": by both sides)
//   in  {"type":"close_channel","label":L}
//   out {"type":"channel_close","label":L}
//   in  {"type":"get_stats"}
//   out {"type":"stats","selected":{"local":{...},"remote":{...},"bytesSent":N,...},...}
//   in  {"type":"close"} or EOF                               closes the browser, exits 0
//   out {"type":"error","error":TEXT}                         for what failed; it keeps going
//
// An offer or answer is printed once ICE gathering has completed (at most 5 s), so its SDP
// holds every candidate; with "trickle":true it is printed at once. Local candidates are also
// printed one by one as they are gathered.
//
// Loopback only. The RTCPeerConnection has an empty iceServers list. Chromium never gathers
// 127.0.0.1 but, given a remote 127.0.0.1 candidate, sends its checks from 127.0.0.1; Firefox
// gathers 127.0.0.1 with media.peerconnection.ice.loopback (and a page allowed to capture).
// Every candidate that is not on 127.0.0.0/8 (LAN addresses, ::1, mDNS names) is dropped from
// what this script prints, from its SDPs and from what it is given, so no check ever goes to a
// LAN address. The page is about:blank; the browser runs with a fresh profile and its
// background network services off.
//
// Bounded: every step has a time limit, the script exits by itself after --timeout (default
// 30 s, exit status 2), and the browser is killed whenever the script ends (close, EOF,
// SIGTERM, SIGINT, an error).

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const CHROMIUM = '/usr/bin/chromium';
const FIREFOX = '/usr/bin/firefox-esr';
const STEP_MS = 10000;      // limit for one browser round trip (launch excepted)
const LAUNCH_MS = 30000;    // limit for starting the browser
const GATHER_MS = 5000;     // limit for ICE gathering before an SDP is printed anyway

function emit(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}
function log(text) {
  process.stderr.write(`[browser_peer ${new Date().toISOString()}] ${text}\n`);
}

function parseArgs(argv) {
  const args = { browser: 'chromium', timeout: 30 };
  for (let i = 2; i < argv.length; ++i) {
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    if (argv[i] === '--browser') args.browser = next();
    else if (argv[i] === '--timeout') args.timeout = Number(next());
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!['chromium', 'firefox'].includes(args.browser)) {
    throw new Error(`--browser must be chromium or firefox, got ${args.browser}`);
  }
  if (!(args.timeout > 0)) throw new Error('--timeout must be a positive number of seconds');
  return args;
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// --- loopback filtering (RFC 8839 section 5.1: the address is the candidate's 5th field) ---

function candidateAddress(candidate) {
  const fields = candidate.replace(/^a=/, '').replace(/^candidate:/, '').trim().split(/\s+/);
  return fields.length >= 6 ? fields[4] : '';
}
// 127.0.0.0/8 only: ::1 is loopback too, but the peers under test speak IPv4.
function isLoopback(address) {
  return /^127\.\d+\.\d+\.\d+$/.test(address);
}
function isLoopbackCandidate(candidate) {
  return isLoopback(candidateAddress(candidate));
}
// The SDP without its non-loopback a=candidate lines. A connection line (c=) that names a
// non-loopback address becomes the "no candidate yet" default of RFC 8840 section 4.1.1
// (IN IP4 0.0.0.0, port 9), so that no LAN address is left in it for a peer to try.
function loopbackOnlySdp(sdp, where) {
  const lines = sdp.split(/\r\n/);
  let media = -1;  // index of the current m= line
  const kept = [];
  for (const line of lines) {
    if (line.startsWith('m=')) media = kept.length;
    if (line.startsWith('a=candidate:') && !isLoopbackCandidate(line)) {
      log(`dropped ${where} candidate ${line.slice(2)}`);
      continue;
    }
    const connection = /^c=IN IP[46] (\S+)$/.exec(line);
    if (media >= 0 && connection && !isLoopback(connection[1]) && connection[1] !== '0.0.0.0') {
      kept.push('c=IN IP4 0.0.0.0');
      kept[media] = kept[media].replace(/^(m=\S+ )\d+/, '$19');
      continue;
    }
    kept.push(line);
  }
  return kept.join('\r\n');
}

// --- the page side: runs inside the browser (serialized by the driver, so self-contained) ---

function installPeer() {
  const events = [];
  let wake = null;
  const push = (event) => {
    events.push(event);
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  };
  const pc = new RTCPeerConnection({ iceServers: [] });
  const channels = new Map();
  const hex = (bytes) => {
    const digits = '0123456789abcdef';
    const out = new Array(bytes.length);
    for (let i = 0; i < bytes.length; ++i) out[i] = digits[bytes[i] >> 4] + digits[bytes[i] & 15];
    return out.join('');
  };
  const unhex = (text) => {
    if (text.length % 2 !== 0 || /[^0-9a-fA-F]/.test(text)) throw new Error('bad hex');
    const bytes = new Uint8Array(text.length / 2);
    for (let i = 0; i < bytes.length; ++i) bytes[i] = parseInt(text.substr(2 * i, 2), 16);
    return bytes;
  };
  const dtlsState = () => (pc.sctp && pc.sctp.transport ? pc.sctp.transport.state : undefined);
  let watchingDtls = false;
  const state = () => {
    if (!watchingDtls && pc.sctp && pc.sctp.transport) {
      watchingDtls = true;
      pc.sctp.transport.addEventListener('statechange', state);
    }
    push({
      type: 'state',
      ice: pc.iceConnectionState,
      connection: pc.connectionState,
      dtls: dtlsState(),
    });
  };
  pc.addEventListener('iceconnectionstatechange', state);
  pc.addEventListener('connectionstatechange', state);
  pc.addEventListener('icecandidate', (e) => {
    if (e.candidate && e.candidate.candidate) {
      push({ type: 'local_candidate', candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid });
    } else if (!e.candidate) {
      push({ type: 'local_end_of_candidates' });
    }
  });
  const attach = (ch) => {
    ch.binaryType = 'arraybuffer';
    channels.set(ch.label, ch);
    const label = ch.label;
    let announced = false;  // Firefox may hand over an open channel and still fire 'open'
    const opened = () => {
      if (announced) return;
      announced = true;
      push({ type: 'channel_open', label, id: ch.id });
    };
    ch.addEventListener('open', opened);
    ch.addEventListener('close', () => push({ type: 'channel_close', label }));
    ch.addEventListener('error', (e) =>
      push({ type: 'error', error: `channel ${label}: ${e.error ? e.error.message : 'error'}` }));
    ch.addEventListener('message', (e) => {
      if (typeof e.data === 'string') push({ type: 'message', label, data: e.data });
      else push({ type: 'message', label, hex: hex(new Uint8Array(e.data)) });
    });
    if (ch.readyState === 'open') opened();
  };
  pc.addEventListener('datachannel', (e) => attach(e.channel));
  const gathered = (ms) =>
    new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const timer = setTimeout(resolve, ms);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  const channel = (label) => {
    const ch = channels.get(label);
    if (!ch) throw new Error(`no channel labelled ${JSON.stringify(label)}`);
    return ch;
  };

  window.peer = {
    // Events since the last call; waits up to `ms` for the first one.
    async take(ms) {
      if (events.length === 0) {
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, ms);
        });
        wake = null;
      }
      return events.splice(0, events.length);
    },
    createChannel(c) {
      const init = { ordered: c.ordered !== false };
      if (c.maxRetransmits !== undefined) init.maxRetransmits = c.maxRetransmits;
      if (c.maxPacketLifeTime !== undefined) init.maxPacketLifeTime = c.maxPacketLifeTime;
      if (c.negotiated) init.negotiated = true;
      if (c.id !== undefined) init.id = c.id;
      if (c.protocol !== undefined) init.protocol = c.protocol;
      attach(pc.createDataChannel(c.label, init));
    },
    async createOffer({ channels: wanted, trickle, gatherMs }) {
      for (const c of wanted || []) window.peer.createChannel(c);
      await pc.setLocalDescription(await pc.createOffer());
      if (!trickle) await gathered(gatherMs);
      return pc.localDescription.sdp;
    },
    async acceptOffer({ sdp, trickle, gatherMs }) {
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      if (!trickle) await gathered(gatherMs);
      return pc.localDescription.sdp;
    },
    async acceptAnswer({ sdp }) {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    },
    async addCandidate({ candidate, sdpMid }) {
      await pc.addIceCandidate({ candidate, sdpMid: sdpMid === undefined ? '0' : sdpMid });
    },
    async endOfCandidates() {
      await pc.addIceCandidate();
    },
    send({ label, data, hex: bytes }) {
      const ch = channel(label);
      if (bytes !== undefined) ch.send(unhex(bytes));
      else ch.send(data);
    },
    closeChannel({ label }) {
      channel(label).close();
    },
    async stats() {
      const report = await pc.getStats();
      const all = [];
      report.forEach((s) => all.push(s));
      const transport = all.find((s) => s.type === 'transport');
      let pair = transport && transport.selectedCandidatePairId
        ? report.get(transport.selectedCandidatePairId)
        : undefined;
      if (!pair) {
        pair = all.find((s) => s.type === 'candidate-pair' && (s.selected || s.nominated) &&
                              s.state === 'succeeded');
      }
      const candidate = (id) => {
        const c = id ? report.get(id) : undefined;
        if (!c) return undefined;
        return {
          address: c.address !== undefined ? c.address : c.ip,
          port: c.port,
          protocol: c.protocol,
          candidateType: c.candidateType,
        };
      };
      return {
        selected: pair ? {
          local: candidate(pair.localCandidateId),
          remote: candidate(pair.remoteCandidateId),
          state: pair.state,
          nominated: pair.nominated,
          bytesSent: pair.bytesSent,
          bytesReceived: pair.bytesReceived,
        } : null,
        transport: transport ? {
          bytesSent: transport.bytesSent,
          bytesReceived: transport.bytesReceived,
          dtlsState: transport.dtlsState,
          iceState: transport.iceState,
          tlsVersion: transport.tlsVersion,
          dtlsCipher: transport.dtlsCipher,
        } : null,
        dataChannels: all.filter((s) => s.type === 'data-channel').map((s) => ({
          label: s.label,
          id: s.dataChannelIdentifier,
          state: s.state,
          messagesSent: s.messagesSent,
          messagesReceived: s.messagesReceived,
          bytesSent: s.bytesSent,
          bytesReceived: s.bytesReceived,
        })),
        connection: pc.connectionState,
        ice: pc.iceConnectionState,
        dtls: dtlsState(),
        sctpMaxMessageSize: pc.sctp ? pc.sctp.maxMessageSize : undefined,
      };
    },
    close() {
      for (const ch of channels.values()) ch.close();
      pc.close();
    },
  };
  return navigator.userAgent;
}

// --- the browsers --------------------------------------------------------------------------

// Chromium honours only the last --disable-features, and playwright passes one of its own
// before ours; so ours repeats playwright-core 1.61's list (among them features that would
// reach the network: optimization hints, translation, media-router discovery) and adds
// WebRtcHideLocalIpsWithMdns: host candidates as IP addresses, not mDNS names (registered by
// multicast, and which a remote peer would resolve by multicast). They are dropped anyway.
const DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync', 'BoundaryEventDispatchTracksNodeRemoval',
  'DestroyProfileOnBrowserClose', 'DialMediaRouteProvider', 'GlobalMediaControls',
  'HttpsUpgrades', 'LensOverlay', 'MediaRouter', 'PaintHolding', 'ThirdPartyStoragePartitioning',
  'Translate', 'AutoDeElevate', 'RenderDocument', 'OptimizationHints',
  'WebRtcHideLocalIpsWithMdns',
];

async function launchChromium() {
  const { chromium } = await import('playwright-core');
  // playwright gives every launch() a fresh temporary user-data-dir of its own and removes it
  // at close (it refuses --user-data-dir in args), so the profile is always new.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: LAUNCH_MS,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-domain-reliability',
      `--disable-features=${DISABLED_FEATURES.join(',')}`,
    ],
  });
  const page = await browser.newPage();  // about:blank
  return {
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    close: () => browser.close(),
    kill: () => {},  // playwright kills the browser's process group when node exits
    leftovers: [],  // playwright's profile: found on Chromium's command line
  };
}

async function launchFirefox() {
  const { default: puppeteer } = await import('puppeteer-core');
  const profile = mkdtempSync(join(tmpdir(), 'cellrtc-firefox-'));
  const prefs = {
    // WebRTC on loopback: gather 127.0.0.1, print host addresses rather than mDNS names.
    'media.peerconnection.ice.loopback': true,
    'media.peerconnection.ice.obfuscate_host_addresses': false,
    'media.peerconnection.ice.link_local': false,
    // Firefox gathers only the default route's addresses (so never 127.0.0.1) for a page that
    // neither captures nor may capture (MediaManager::IsActivelyCapturingOrHasAPermission);
    // allowing the microphone by default lifts that. Nothing captures.
    'permissions.default.microphone': 1,
    'media.peerconnection.use_document_iceservers': true,
    'media.peerconnection.default_iceservers': '[]',
    // Off the network: no updates, telemetry, safe browsing, captive portal checks,
    // prefetching, plugin (OpenH264) downloads, remote settings or DNS over HTTPS.
    'app.update.enabled': false,
    'app.update.auto': false,
    'app.update.checkInstallTime': false,
    'extensions.update.enabled': false,
    'extensions.getAddons.cache.enabled': false,
    'extensions.blocklist.enabled': false,
    'toolkit.telemetry.enabled': false,
    'toolkit.telemetry.unified': false,
    'toolkit.telemetry.server': '',
    'datareporting.healthreport.uploadEnabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'browser.ping-centre.telemetry': false,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'browser.safebrowsing.downloads.enabled': false,
    'browser.safebrowsing.downloads.remote.enabled': false,
    'browser.safebrowsing.blockedURIs.enabled': false,
    'browser.safebrowsing.provider.google.updateURL': '',
    'browser.safebrowsing.provider.google4.updateURL': '',
    'browser.safebrowsing.provider.mozilla.updateURL': '',
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'network.prefetch-next': false,
    'network.dns.disablePrefetch': true,
    'network.http.speculative-parallel-limit': 0,
    'network.predictor.enabled': false,
    'network.trr.mode': 5,
    'media.gmp-manager.updateEnabled': false,
    'media.gmp-manager.url': '',
    'media.gmp-gmpopenh264.enabled': false,
    'media.gmp-gmpopenh264.autoupdate': false,
    'services.settings.server': '',
    'browser.region.network.url': '',
    'geo.provider.network.url': '',
    'browser.newtabpage.enabled': false,
    'browser.startup.page': 0,
    'browser.startup.homepage': 'about:blank',
  };
  let browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      protocol: 'webDriverBiDi',
      headless: true,
      userDataDir: profile,
      extraPrefsFirefox: prefs,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: LAUNCH_MS,
      protocolTimeout: STEP_MS * 3,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const child = browser.process();
  let page;
  try {
    page = (await browser.pages())[0] || (await browser.newPage());  // about:blank
  } catch (e) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  return {
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    close: async () => {
      try {
        await browser.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
    kill: () => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      rmSync(profile, { recursive: true, force: true });
    },
    leftovers: [profile],
  };
}

// A guard for the one case no handler here can cover: this process killed outright (SIGKILL,
// e.g. the test binary dying takes it with it). Both drivers start the browser in its own
// process group; a detached shell waits for this process to go and then kills those groups
// and removes the temporary profiles.
function guardBrowserProcesses(leftovers) {
  const groups = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');  // state ppid pgrp ...
      if (Number(fields[1]) === process.pid && Number(fields[2]) === Number(entry)) {
        groups.push(Number(entry));
        // playwright's temporary profile, named on Chromium's command line
        for (const arg of readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')) {
          if (arg.startsWith('--user-data-dir=/tmp/')) leftovers.push(arg.slice(16));
        }
      }
    } catch {
      // gone meanwhile
    }
  }
  if (groups.length === 0) return;
  const kill = groups.map((g) => `kill -KILL -${g} 2>/dev/null`).join('; ');
  const quoted = leftovers.filter((p) => !p.includes("'")).map((p) => `'${p}'`);
  const remove = quoted.length > 0 ? `; rm -rf ${quoted.join(' ')}` : '';
  const guard = spawn('/bin/sh', ['-c',
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.5; done; ${kill}${remove}`], {
    detached: true,
    stdio: 'ignore',
  });
  guard.unref();
}

// --- the line protocol ---------------------------------------------------------------------

async function main() {
  let args;
  try {
    args = parseArgs(process.argv);
  } catch (e) {
    emit({ type: 'error', error: e.message });
    process.exit(64);
  }

  let browser = null;
  let stopping = false;
  const shutdown = async (code, why) => {
    if (stopping) return;
    stopping = true;
    if (why) log(`stopping: ${why}`);
    if (browser) {
      const start = performance.now();
      try {
        await withTimeout(browser.close(), 5000, 'closing the browser');
        log(`browser closed in ${Math.round(performance.now() - start)} ms`);
      } catch (e) {
        log(e.message);
        browser.kill();
      }
    }
    process.exit(code);
  };
  // Whatever happens, the script (and with it the browser) is gone after --timeout.
  const lifetime = setTimeout(() => {
    emit({ type: 'error', error: `timeout after ${args.timeout} s` });
    shutdown(2, 'lifetime over');
  }, args.timeout * 1000);
  lifetime.unref();
  process.on('SIGTERM', () => shutdown(0, 'SIGTERM'));
  process.on('SIGINT', () => shutdown(0, 'SIGINT'));
  process.on('SIGHUP', () => shutdown(0, 'SIGHUP'));

  // Lines are read from the start, so none is lost while the browser launches.
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const queue = [];
  let wakeReader = null;
  let inputEnded = false;
  lines.on('line', (line) => {
    queue.push(line);
    if (wakeReader) wakeReader();
  });
  lines.on('close', () => {
    inputEnded = true;
    if (wakeReader) wakeReader();
  });
  const nextLine = async () => {
    while (queue.length === 0 && !inputEnded) await new Promise((r) => (wakeReader = r));
    wakeReader = null;
    return queue.length > 0 ? queue.shift() : null;
  };

  try {
    browser = await withTimeout(args.browser === 'chromium' ? launchChromium() : launchFirefox(),
                                LAUNCH_MS + 5000, `launching ${args.browser}`);
    guardBrowserProcesses(browser.leftovers);
    const userAgent = await withTimeout(browser.evaluate(installPeer), STEP_MS, 'page setup');
    log(`${args.browser} ready after ${Math.round(performance.now())} ms`);
    emit({ type: 'ready', userAgent });
  } catch (e) {
    emit({ type: 'error', error: `${args.browser}: ${e.message}` });
    await shutdown(1, 'launch failed');
    return;
  }

  // Events from the page, forwarded as they come.
  const pump = (async () => {
    while (!stopping) {
      let events;
      try {
        events = await withTimeout(browser.evaluate((ms) => window.peer.take(ms), 500), STEP_MS,
                                   'reading page events');
      } catch (e) {
        if (!stopping) emit({ type: 'error', error: `page: ${e.message}` });
        await shutdown(1, 'page lost');
        return;
      }
      for (const event of events) {
        if (event.type === 'local_candidate') {
          if (isLoopbackCandidate(event.candidate)) {
            emit({ type: 'candidate', candidate: event.candidate, sdpMid: event.sdpMid });
          } else {
            log(`dropped local candidate ${event.candidate}`);
          }
        } else if (event.type === 'local_end_of_candidates') {
          emit({ type: 'end_of_candidates' });
        } else {
          emit(event);
        }
      }
    }
  })();

  const call = (fn, arg, what) => withTimeout(browser.evaluate(fn, arg), STEP_MS, what);
  const handle = async (m) => {
    switch (m.type) {
      case 'create_offer': {
        const sdp = await call((a) => window.peer.createOffer(a),
                               { channels: m.channels || [], trickle: !!m.trickle,
                                 gatherMs: GATHER_MS }, 'create_offer');
        emit({ type: 'offer', sdp: loopbackOnlySdp(sdp, 'local') });
        return;
      }
      case 'offer': {
        const sdp = await call((a) => window.peer.acceptOffer(a),
                               { sdp: loopbackOnlySdp(m.sdp, 'remote'), trickle: !!m.trickle,
                                 gatherMs: GATHER_MS }, 'offer');
        emit({ type: 'answer', sdp: loopbackOnlySdp(sdp, 'local') });
        return;
      }
      case 'answer':
        await call((a) => window.peer.acceptAnswer(a), { sdp: loopbackOnlySdp(m.sdp, 'remote') },
                   'answer');
        return;
      case 'candidate':
        if (!isLoopbackCandidate(m.candidate || '')) {
          throw new Error(`refusing non-loopback remote candidate ${m.candidate}`);
        }
        await call((a) => window.peer.addCandidate(a),
                   { candidate: m.candidate.replace(/^a=/, ''), sdpMid: m.sdpMid }, 'candidate');
        return;
      case 'end_of_candidates':
        await call(() => window.peer.endOfCandidates(), undefined, 'end_of_candidates');
        return;
      case 'send':
        if (typeof m.label !== 'string') throw new Error('send needs a label');
        if (typeof m.hex !== 'string' && typeof m.data !== 'string') {
          throw new Error('send needs "data" (text) or "hex" (binary)');
        }
        await call((a) => window.peer.send(a), { label: m.label, data: m.data, hex: m.hex },
                   'send');
        return;
      case 'create_channel':
        if (!m.channel || typeof m.channel.label !== 'string') {
          throw new Error('create_channel needs "channel" with a "label"');
        }
        await call((a) => window.peer.createChannel(a), m.channel, 'create_channel');
        return;
      case 'close_channel':
        await call((a) => window.peer.closeChannel(a), { label: m.label }, 'close_channel');
        return;
      case 'get_stats':
        emit({ type: 'stats', ...(await call(() => window.peer.stats(), undefined, 'get_stats')) });
        return;
      default:
        throw new Error(`unknown message type ${JSON.stringify(m.type)}`);
    }
  };

  while (!stopping) {
    const line = await nextLine();
    if (line === null) break;
    if (line.trim() === '') continue;
    let message;
    try {
      message = JSON.parse(line);
    } catch (e) {
      emit({ type: 'error', error: `not JSON: ${e.message}` });
      continue;
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      emit({ type: 'error', error: 'not a JSON object' });
      continue;
    }
    if (message.type === 'close') break;
    try {
      await handle(message);
    } catch (e) {
      emit({ type: 'error', error: `${message.type}: ${e.message}` });
    }
  }
  try {
    await withTimeout(browser.evaluate(() => window.peer.close()), 2000, 'closing the peer');
    // Let the page's last events (channel closes) out before the browser goes.
    await new Promise((r) => setTimeout(r, 100));
  } catch (e) {
    log(e.message);
  }
  await shutdown(0, 'closed');
  await pump;
}

main().catch((e) => {
  emit({ type: 'error', error: e.stack || String(e) });
  process.exit(1);
});
