#!/usr/bin/env node
// End-to-end benchmark with the real binaries: cellrtc-server, cellrtc-device (test pattern,
// 640x480) and headless Chromium on the viewer page, either all on 127.0.0.1 (--loopback, no
// link emulation) or in the cellular lab (--lab: scripts/lab/lab.sh, the device behind the
// carrier NAT on a cellrtc-linkem radio link, the viewer behind its own NAT). For each profile
// and pacing (the adaptive streamer and the original design's fixed pacing) it measures:
//
//   - time to first frame painted in the viewer, from the device's start and from its WHIP
//     POST, and by phase (HTTP, ICE, DTLS, SCTP, channels, first frame), from the device's
//     --json-log "timeline" record and the page's window.cellrtcViewer.timing();
//   - frames per second painted, frame size, link utilisation (bytes the server received over
//     the capacity of the profile's uplink, schedule included);
//   - capture-to-display latency p50/p95/p99 per frame: the page's paint time minus the capture
//     time (device clock turned into wall-clock time with the timeline's offset; every process
//     runs on this machine, so the wall clock is one clock), over the run and per phase of the
//     profile's schedule (capacity halved, outage, after);
//   - frames dropped at the device (replaced or refused), sent but never received by the
//     server (lost, or still queued when the run ended), dropped at the server, lost on the
//     downlink, skipped or late at the viewer;
//   - recovery after an outage: from the link coming back to the first frame painted, and to
//     the first frame captured after it painted;
//   - the SCTP associations' recovery counters from the device's stats lines (chunks marked for
//     fast retransmit, chunks retransmitted, T3 expirations, backoff probes), for its WHIP
//     session and its direct viewers;
//   - in direct mode (--paths direct): per WHEP request of the page, the time to the device's
//     answer, the relayed candidates in it, its 201 at the viewer, the device's "connected",
//     and the first frame painted from the viewer's first request.
//
// Writes OUT/<profile>-<pacing>.json, a per-second time series (.dat) and its plot (.png,
// gnuplot), OUT/summary.json, and prints a table row per run.
//
//   node bench/cellular/cellular_bench.mjs --loopback [--seconds 30]
//   node bench/cellular/cellular_bench.mjs --lab --profiles hspa,edge,lte-degrading
//   node bench/cellular/cellular_bench.mjs --lab --profiles bench/cellular/profiles/lte-outage.toml
//                                     (a profile is a name in tools/linkem/profiles or a .toml)
//   node bench/cellular/cellular_bench.mjs --lab --smoke      (hspa, adaptive, 20 s; exit 1 if
//                                     no frame was painted, 77 without root or lab.sh)
//
// Options: --pacing adaptive,fixed (both by default), --seconds S (per run, from the device's
// start; default: the profile's schedule plus 30 s, at least 60 s), --repeat N (runs per
// profile and pacing; the table gives medians), --bin DIR (build/release), --out DIR
// (BIN/bench/cellular), --lab-prefix P (CELLRTC_LAB, default "cellbench"), --fps N (the fixed
// pacing's rate, 10), --small-plots (760x520 palette PNGs of about 10 KB, as in docs/img/,
// instead of 1000x700 antialiased ones of about 70 KB), --paths LIST (--lab only; the device's
// path to the server, each run per profile, path and pacing: default (the agent as shipped,
// server without ICE-TCP or TURN), udp (--transport udp), ice-tcp (--transport tcp to the
// server's --ice-tcp-shared HTTP port), turn-udp, turn-tcp, turn-tls (relay-only device through
// the lab's coturn over UDP, TCP or TLS, the server handing out its credentials), udp-blocked
// (lab.sh up --block-udp, device on auto, server with --ice-tcp-shared), direct (the server in
// --mode=direct, both NATs symmetric, the device's TURN relay on the lab's coturn carrying the
// stream; adaptive pacing only), relay-symmetric (the relay through the same NATs); runs of a path other
// than default are named OUT/<profile>-<path>-<pacing>[-N]), --device-arg ARG (one more
// argument for cellrtc-device, repeatable, e.g. --device-arg=--keepalive-interval=2; recorded
// in the results). Each run records the load average
// at its start and end and its niceness, which the lab's processes inherit: run the bench
// under `nice -n -10` on a shared machine. Environment: CELLRTC_LAB_SCRIPT (another lab.sh),
// and lab.sh's own (CELLRTC_LINKEM, CELLRTC_LAB_SEED).
//
// `--markdown OUT/summary.json [MORE.json...]` prints the summaries' runs as the tables of
// docs/benchmarks.md; given single runs' OUT/<profile>-<pacing>-N.json instead, the medians of
// those of each profile, path and pacing (to pool the runs of several invocations).
// `--markdown --json FILES...` prints the same rows as one JSON summary instead (without the
// per-second series and the processes' records: what the tables are made of, to keep).
//
// Every process is bounded in time and killed on any failure or signal; in --lab the lab is
// brought down after each run and on exit.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = '/usr/bin/chromium';
const DEVICE_ID = 'bench';
const LAB_SERVER = '203.0.113.10';
const LAB_HTTP_PORT = 8080;
const LAB_UDP_PORT = 8443;
const LAB_TURN = '203.0.113.20';
const LAB_TURN_NAME = 'turn.cellrtc.lab';  // the name in the certificate lab.sh makes

// The paths from the device to the server (--paths; issue 10's list). Each says what the lab,
// the server and the device are given. "default" is the agent as shipped against a server
// without ICE-TCP or TURN (every run before --paths existed). The TURN paths make the device
// relay-only (--ice-transport-policy relay) with the lab's coturn as the one TURN server the
// server announces with its time-limited credentials; coturn reaches the server over UDP.
const PATHS = {
  default: {},
  udp: { device: ['--transport=udp'] },
  'ice-tcp': { server: ['--ice-tcp-shared'], device: ['--transport=tcp'] },
  'turn-udp': { turn: `turn:${LAB_TURN}:3478?transport=udp` },
  'turn-tcp': { turn: `turn:${LAB_TURN}:3478?transport=tcp` },
  'turn-tls': { turn: `turns:${LAB_TURN_NAME}:5349?transport=tcp` },
  // UDP silently dropped at the carrier NAT, the device on --transport auto: UDP gets its
  // grace, then ICE-TCP on the server's HTTP port carries the stream.
  'udp-blocked': { lab: ['--block-udp'], server: ['--ice-tcp-shared'] },
  // Direct mode (issue 6, issue 10): the server only signals; the device answers the viewer
  // with a peer connection of its own. The carrier NAT is symmetric and the viewer's NAT is
  // made symmetric too, so no host or reflexive pair works and the frames go through coturn
  // (the device's relayed candidate, allocated over TURN-UDP with the credentials of the
  // offer). The device starts first and the viewer asks once the server has it live (a
  // viewer that asks earlier is served by the relay). The direct viewer's pacing is always
  // the adaptive one: fixed-pacing runs are skipped.
  direct: { lab: ['--symmetric'], viewerNat: 'symmetric', server: ['--mode=direct'],
            turn: `turn:${LAB_TURN}:3478?transport=udp`, direct: true },
  // The relay through the same two symmetric NATs as direct, to compare with it.
  'relay-symmetric': { lab: ['--symmetric'], viewerNat: 'symmetric' },
};

// As tests/browser/viewer_driver.mjs (which says why): playwright-core's list of disabled
// features, repeated, plus WebRtcHideLocalIpsWithMdns.
const DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync', 'BoundaryEventDispatchTracksNodeRemoval',
  'DestroyProfileOnBrowserClose', 'DialMediaRouteProvider', 'GlobalMediaControls',
  'HttpsUpgrades', 'LensOverlay', 'MediaRouter', 'PaintHolding', 'ThirdPartyStoragePartitioning',
  'Translate', 'AutoDeElevate', 'RenderDocument', 'OptimizationHints',
  'WebRtcHideLocalIpsWithMdns',
];
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-domain-reliability',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  `--disable-features=${DISABLED_FEATURES.join(',')}`,
];

// --- small helpers ----------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function log(text) {
  process.stderr.write(`[cellular_bench ${new Date().toISOString()}] ${text}\n`);
}
function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
function percentile(values, p) {
  if (!values.length) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(p * (v.length - 1)))];
}
// The middle value, or the mean of the two middle ones for an even count (percentile() takes
// the lower, which for two runs is the smaller).
function median(values) {
  const v = values.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
const round = (x, digits = 0) =>
  x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits));

function parseArgs(argv) {
  const a = {
    placement: null, profiles: null, pacings: ['adaptive', 'fixed'], seconds: null, repeat: 1,
    bin: join(ROOT, 'build/release'), out: null, prefix: process.env.CELLRTC_LAB || 'cellbench',
    smoke: false, fps: 10, paths: ['default'], deviceArgs: [],
  };
  for (let i = 2; i < argv.length; ++i) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--loopback') a.placement = 'loopback';
    else if (k === '--lab') a.placement = 'lab';
    else if (k === '--smoke') a.smoke = true;
    else if (k === '--profiles') a.profiles = next().split(',').filter(Boolean);
    else if (k === '--pacing') a.pacings = next().split(',').filter(Boolean);
    else if (k === '--paths') a.paths = next().split(',').filter(Boolean);
    else if (k === '--device-arg') a.deviceArgs.push(next());
    else if (k.startsWith('--device-arg=')) a.deviceArgs.push(k.slice('--device-arg='.length));
    else if (k === '--seconds') a.seconds = Number(next());
    else if (k === '--repeat') a.repeat = Number(next());
    else if (k === '--bin') a.bin = resolve(next());
    else if (k === '--out') a.out = resolve(next());
    else if (k === '--lab-prefix') a.prefix = next();
    else if (k === '--fps') a.fps = Number(next());
    else if (k === '--small-plots') a.smallPlots = true;
    else if (k === '--help' || k === '-h') a.help = true;
    else throw new Error(`unknown argument ${k} (see --help)`);
  }
  if (a.help) return a;
  if (!a.placement) throw new Error('say where: --loopback or --lab');
  for (const p of a.pacings) {
    if (p !== 'adaptive' && p !== 'fixed') throw new Error(`--pacing: adaptive or fixed, not ${p}`);
  }
  for (const p of a.paths) {
    if (!Object.hasOwn(PATHS, p)) {
      throw new Error(`--paths: ${Object.keys(PATHS).join(', ')}; not ${p}`);
    }
  }
  if (a.seconds !== null && !(a.seconds >= 10 && a.seconds <= 1800)) {
    throw new Error('--seconds must be from 10 to 1800');
  }
  if (!(Number.isInteger(a.repeat) && a.repeat >= 1 && a.repeat <= 20)) {
    throw new Error('--repeat must be a whole number from 1 to 20');
  }
  if (!(a.fps > 0 && a.fps <= 60)) throw new Error('--fps must be above 0 and at most 60');
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(a.prefix)) throw new Error('bad --lab-prefix');
  if (a.smoke) {
    a.profiles = a.placement === 'lab' ? ['hspa'] : ['loopback'];
    a.pacings = ['adaptive'];
    a.seconds = a.seconds || 20;
  }
  if (!a.profiles) a.profiles = a.placement === 'lab' ? ['hspa', 'edge', 'lte-degrading']
                                                      : ['loopback'];
  if (a.placement === 'loopback' && a.profiles.some((p) => p !== 'loopback')) {
    throw new Error('--loopback has no link emulation: its only profile is "loopback"');
  }
  if (a.placement === 'loopback' && a.paths.some((p) => p !== 'default')) {
    throw new Error('--paths needs --lab (its NATs and TURN server)');
  }
  a.out = a.out || join(a.bin, 'bench/cellular');
  return a;
}

// --- child processes --------------------------------------------------------------------------

// Every child started, so that any exit can stop them all.
const children = new Set();

// Starts `cmd` with its output in `logPath`; onLine gets each stdout line.
function startChild(name, cmd, args, { logPath, onLine, env } = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env || process.env });
  child.benchName = name;
  children.add(child);
  const file = logPath ? createWriteStream(logPath) : null;
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    return { code, signal };
  });
  child.exitedPromise = exited;
  child.on('error', (e) => log(`${name}: ${e.message}`));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (file) file.write(`${line}\n`);
    if (onLine) onLine(line);
  });
  child.stderr.on('data', (d) => file && file.write(d));
  exited.then(() => file && file.end());
  return child;
}

// SIGTERM, then SIGKILL after `graceMs`.
async function stopChild(child, graceMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  try {
    await withTimeout(child.exitedPromise, graceMs, `${child.benchName} exit`);
  } catch {
    log(`${child.benchName} did not stop in ${graceMs} ms: SIGKILL`);
    child.kill('SIGKILL');
    await withTimeout(child.exitedPromise, 3000, `${child.benchName} kill`).catch(() => {});
  }
}

function killAllNow() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

// A command to its end, bounded; returns {status, stdout, stderr}.
function runSync(cmd, args, timeoutMs, env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, env: env || process.env });
  return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '', error: r.error };
}

async function freePort() {
  for (let attempt = 0; attempt < 20; ++attempt) {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address();
    server.close();
    const udp = createSocket('udp4');
    const ok = await new Promise((res) => {
      udp.once('error', () => res(false));
      udp.bind(port, '127.0.0.1', () => res(true));
    });
    udp.close();
    if (ok) return port;
  }
  throw new Error('no free port on 127.0.0.1');
}

// --- placements -------------------------------------------------------------------------------

class Loopback {
  constructor(args) {
    this.args = args;
    this.name = 'loopback';
  }
  async up() {
    this.httpPort = await freePort();
    this.udpPort = await freePort();
    this.base = `http://127.0.0.1:${this.httpPort}`;
    return { linkStartedAt: Date.now() };
  }
  async down() {}
  serverCommand(args) {
    return { cmd: join(this.args.bin, 'server/cellrtc-server'),
             args: [`--listen=127.0.0.1:${this.httpPort}`, `--udp-port=${this.udpPort}`,
                    '--udp-address=127.0.0.1', ...args] };
  }
  deviceCommand(args) {
    return { cmd: join(this.args.bin, 'device/cellrtc-device'), args };
  }
  async httpGet(path) {
    const r = await withTimeout(fetch(`${this.base}${path}`, { cache: 'no-store' }), 3000, path);
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.text();
  }
  chromiumPath() {
    return CHROMIUM;
  }
}

class Lab {
  constructor(args) {
    this.args = args;
    this.script = process.env.CELLRTC_LAB_SCRIPT || join(ROOT, 'scripts/lab/lab.sh');
    this.env = { ...process.env, CELLRTC_LAB: args.prefix };
    this.base = `http://${LAB_SERVER}:${LAB_HTTP_PORT}`;
  }
  check() {
    if (!existsSync(this.script)) throw new Error(`${this.script} is missing (the lab is not here)`);
    if (process.getuid && process.getuid() !== 0) throw new Error('--lab needs root');
  }
  lab(args, timeoutMs = 120000) {
    const r = runSync(this.script, args, timeoutMs, this.env);
    if (r.status !== 0) {
      throw new Error(`lab.sh ${args.join(' ')}: ${r.error ? r.error.message : `exit ${r.status}`}` +
                      `\n${r.stderr.slice(-2000)}`);
    }
    return r.stdout;
  }
  // `options`: more of lab.sh up's options (--block-udp).
  async up(profile, options = []) {
    this.lab(['down'], 60000);
    this.lab(['up', '--profile', profile, ...options], 180000);
    // The radio link's schedule counts from cellrtc-linkem's "ready", the line it writes to
    // the lab's linkem.out just before up returns.
    let linkStartedAt = Date.now();
    try {
      const mtime = statSync(`/run/cellrtc-lab/${this.args.prefix}/linkem.out`).mtimeMs;
      if (mtime <= linkStartedAt && mtime > linkStartedAt - 60000) linkStartedAt = mtime;
    } catch {
      // no such file: up's return it is
    }
    return { linkStartedAt };
  }
  async down() {
    try {
      this.lab(['down'], 60000);
    } catch (e) {
      log(e.message);
    }
  }
  exec(node) {
    return [this.script, 'exec', node];
  }
  // The home NAT maps every destination to a new random port as well (lab.sh makes only the
  // carrier NAT symmetric), as tests/lab/lab_direct_test.cpp does: lab.sh's viewer NAT rule
  // with "fully-random".
  makeViewerNatSymmetric() {
    this.lab(['exec', 'vnat', 'nft', 'flush', 'chain', 'ip', 'cellrtc_lab', 'postrouting'], 10000);
    this.lab(['exec', 'vnat', 'nft', 'add', 'rule', 'ip', 'cellrtc_lab', 'postrouting', 'oifname',
              'wan0', 'counter', 'masquerade', 'fully-random'], 10000);
    const rules = this.lab(['exec', 'vnat', 'nft', 'list', 'chain', 'ip', 'cellrtc_lab',
                            'postrouting'], 10000);
    if (!rules.includes('fully-random')) throw new Error(`viewer NAT not symmetric:\n${rules}`);
  }
  // A file of the running lab's state (turn-secret, turn-cert.pem).
  stateFile(name) {
    return `/run/cellrtc-lab/${this.args.prefix}/${name}`;
  }
  serverCommand(args) {
    const [cmd, ...pre] = this.exec('srv');
    return { cmd, env: this.env,
             args: [...pre, join(this.args.bin, 'server/cellrtc-server'),
                    `--listen=${LAB_SERVER}:${LAB_HTTP_PORT}`, `--udp-port=${LAB_UDP_PORT}`,
                    `--udp-address=${LAB_SERVER}`, ...args] };
  }
  deviceCommand(args) {
    const [cmd, ...pre] = this.exec('dev');
    return { cmd, env: this.env,
             args: [...pre, join(this.args.bin, 'device/cellrtc-device'), ...args] };
  }
  async httpGet(path) {
    const r = runSync(this.script, ['exec', 'srv', 'curl', '-fsS', '-m', '3', `${this.base}${path}`],
                      5000, this.env);
    if (r.status !== 0) throw new Error(`${path}: curl exit ${r.status} ${r.stderr.trim()}`);
    return r.stdout;
  }
  // Chromium in the viewer's namespace: playwright talks to it over a pipe, which crosses
  // namespaces; its network is the viewer's (behind the viewer's NAT).
  chromiumPath(outDir) {
    const wrapper = join(outDir, 'chromium-in-viewer-ns.sh');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec '${this.args.prefix}-viewer' ` +
                           `${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    return wrapper;
  }
}

// --- link profiles ----------------------------------------------------------------------------

// tools/linkem/profiles/NAME.toml as JSON (python3's tomllib), and the uplink's capacity over
// time from its rate and schedule (outage: 0; rate and config changes: the new rate).
function loadProfile(name) {
  if (name === 'loopback') return { name, capacityAt: () => null, outages: [], phases: [] };
  // A shipped profile's name, or the path of a .toml file (named after the file).
  const isPath = name.includes('/') || name.endsWith('.toml');
  const file = isPath ? resolve(name) : join(ROOT, 'tools/linkem/profiles', `${name}.toml`);
  if (!existsSync(file)) throw new Error(`no profile ${file}`);
  if (isPath) name = basename(file).replace(/\.toml$/, '');
  const r = runSync('python3', ['-c',
    'import json,sys,tomllib; print(json.dumps(tomllib.load(open(sys.argv[1],"rb"))))', file],
  10000);
  if (r.status !== 0) throw new Error(`${file}: ${r.stderr.trim()}`);
  const toml = JSON.parse(r.stdout);
  const up = (toml.up && toml.up.rate_kbps) || 0;  // 0: unlimited
  const schedule = (toml.schedule || []).map((s) => ({ ...s, direction: s.direction || 'both' }))
      .filter((s) => s.direction === 'up' || s.direction === 'both')
      .sort((a, b) => a.at_s - b.at_s);
  // Piecewise: [{from_s, to_s, kbps, what}]
  const segments = [];
  let rate = up;
  let t = 0;
  let what = 'start';
  for (const s of schedule) {
    if (s.at_s > t) segments.push({ from_s: t, to_s: s.at_s, kbps: rate, what });
    t = Math.max(t, s.at_s);
    if (s.action === 'outage') {
      segments.push({ from_s: t, to_s: t + s.duration_s, kbps: 0, what: 'outage' });
      t += s.duration_s;
      what = 'after outage';
    } else if (s.action === 'rate') {
      rate = s.rate_kbps;
      what = `rate ${rate} kbit/s`;
    } else if (s.action === 'config' && s.values && Number.isFinite(s.values.rate_kbps)) {
      rate = s.values.rate_kbps;
      what = `config ${rate} kbit/s`;
    }
  }
  segments.push({ from_s: t, to_s: Infinity, kbps: rate, what });
  const capacityAt = (sec) => {
    for (const s of segments) if (sec >= s.from_s && sec < s.to_s) return s.kbps || null;
    return null;
  };
  const outages = segments.filter((s) => s.what === 'outage');
  const end = schedule.length ? Math.max(...segments.map((s) => (Number.isFinite(s.to_s) ? s.to_s
                                                                                       : s.from_s)))
                              : 0;
  return { name, file, labProfile: isPath ? file : name, description: toml.description || '', up_kbps: up, segments, capacityAt,
           outages, schedule_end_s: end };
}

// --- one run ----------------------------------------------------------------------------------

async function oneRun(args, placement, profile, path, pacing, index) {
  const tag = `${profile.name}-${path === 'default' ? '' : `${path}-`}${pacing}` +
              `${args.repeat > 1 ? `-${index + 1}` : ''}`;
  const outDir = args.out;
  const seconds = args.seconds || Math.max(60, Math.ceil(profile.schedule_end_s || 0) + 30);
  const token = randomBytes(16).toString('hex');
  log(`run ${tag}: ${seconds} s`);
  const result = { profile: profile.name, path, pacing, placement: placement.name || 'lab', seconds,
                   device_args: args.deviceArgs,
                   // The machine is shared: its load around each run, and this run's niceness
                   // (which the lab's processes inherit).
                   load_average: { start: os.loadavg().map((x) => round(x, 2)) },
                   nice: os.getPriority() };
  const how = PATHS[path];
  let server = null;
  let device = null;
  let browser = null;
  try {
    const { linkStartedAt } = await placement.up(profile.labProfile || profile.name, how.lab || []);
    result.link_started_at = linkStartedAt;
    if (how.viewerNat === 'symmetric') placement.makeViewerNatSymmetric();
    const serverPathArgs = [...(how.server || [])];
    const devicePathArgs = [...(how.device || [])];
    if (how.turn) {
      const secret = readFileSync(placement.stateFile('turn-secret'), 'utf8').trim();
      serverPathArgs.push(`--turn-secret=${secret}`, `--turn-url=${how.turn}`);
      // Direct mode: the device keeps its host candidates (the NATs decide what works).
      if (!how.direct) devicePathArgs.push('--ice-transport-policy=relay');
      devicePathArgs.push(`--resolve=${LAB_TURN_NAME}=${LAB_TURN}`,
                          `--ca-file=${placement.stateFile('turn-cert.pem')}`);
    }

    // The server, with the bench's device.
    const s = placement.serverCommand([`--device=${DEVICE_ID}:${token}`,
                                       `--web-root=${join(ROOT, 'web')}`, '--log-level=info',
                                       ...serverPathArgs]);
    server = startChild('cellrtc-server', s.cmd, s.args,
                        { logPath: join(outDir, `${tag}.server.log`), env: s.env });
    const healthUntil = Date.now() + 15000;
    for (;;) {
      try {
        if ((await placement.httpGet('/healthz')).trim() === 'ok') break;
      } catch (e) {
        if (Date.now() > healthUntil) throw new Error(`the server does not answer: ${e.message}`);
      }
      if (server.exitCode !== null) throw new Error('cellrtc-server exited');
      await sleep(200);
    }

    // The viewer, watching the device before it starts.
    const { chromium } = await import('playwright-core');
    browser = await withTimeout(chromium.launch({
      executablePath: placement.chromiumPath(outDir), headless: true, handleSIGINT: false,
      handleSIGTERM: false, handleSIGHUP: false, timeout: 30000, args: CHROMIUM_ARGS,
    }), 35000, 'launching Chromium');
    const context = await browser.newContext();
    const page = await context.newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`.slice(0, 300)));
    if (placement instanceof Loopback) {
      // Only loopback candidates reach the server (tests/browser/viewer_driver.mjs says why).
      await page.route('**/whep/**', async (route) => {
        const request = route.request();
        if (request.method() === 'POST' && request.postData()) {
          await route.continue({ postData: loopbackOnlySdp(request.postData()) });
        } else {
          await route.continue();
        }
      });
    }
    // Every WHEP POST of the page: when it went, its status and path, when its answer came.
    const whep = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().includes('/whep/')) {
        whep.push({ request, posted_at: Date.now() });
      }
    });
    page.on('response', (response) => {
      const w = whep.find((x) => x.request === response.request());
      if (!w) return;
      w.answered_at = Date.now();
      w.status = response.status();
      w.path = response.headers()['cellrtc-path'] || null;
    });
    // Direct on a slow link may take more than one offer (an answer without a usable relayed
    // candidate fails its checks, and the page asks again): a minute and a half then.
    const openViewer = async () => {
      await page.goto(`${placement.base}/?device=${DEVICE_ID}`, { timeout: 20000 });
      const watchFor = how.direct ? 90000 : 30000;
      const watchUntil = Date.now() + watchFor;
      while ((await page.evaluate(() => window.cellrtcViewer.stats().sessions)) < 1) {
        if (Date.now() > watchUntil && how.direct) {
          // Direct mode that never connects is a result (each request's timing says why):
          // the run goes on to its end with the page still asking.
          log(`the viewer did not connect in ${watchFor / 1000} s: recorded as such`);
          result.viewer_never_connected = true;
          break;
        }
        if (Date.now() > watchUntil) throw new Error(`the viewer did not connect in ${watchFor / 1000} s`);
        await sleep(200);
      }
    };
    // Relay: the viewer watches the device before it starts. Direct: after the server has it
    // live (its control channel carries the offer).
    if (!how.direct) await openViewer();

    // The device.
    const device_records = { timeline: [], summary: null, states: [], stats: [], relay: [],
                             direct: [] };
    const d = placement.deviceCommand([
      `--server=${placement.base}`, `--token=${token}`, '--source=testpattern:640x480',
      '--json-log', `--pacing=${pacing}`, ...(pacing === 'fixed' ? [`--fps=${args.fps}`] : []),
      ...devicePathArgs, ...args.deviceArgs,
    ]);
    const deviceStartedAt = Date.now();
    device = startChild('cellrtc-device', d.cmd, d.args, {
      logPath: join(outDir, `${tag}.device.log`), env: d.env,
      onLine: (line) => {
        const at = Date.now();
        // The TURN relay's records are taken by their message alone: the device's extra
        // fields of these records were not valid JSON before c7341d1.
        const relay = /^\{"time":"[^"]*","event":"relay","message":"((?:[^"\\]|\\.)*)"/.exec(line);
        if (relay) {
          device_records.relay.push({ at, message: relay[1] });
          return;
        }
        let m;
        try {
          m = JSON.parse(line);
        } catch {
          return;
        }
        if (m.event === 'timeline') device_records.timeline.push(m);
        else if (m.event === 'summary') device_records.summary = m;
        else if (m.event === 'state') {
          device_records.states.push({ at, state: m.state, message: m.message });
        }
        else if (m.event === 'stats') device_records.stats.push({ at, ...m });
        else if (m.event === 'direct') device_records.direct.push({ at, message: m.message });
      },
    });

    if (how.direct) {
      const liveUntil = Date.now() + 60000;
      for (;;) {
        if (device.exitCode !== null) throw new Error(`cellrtc-device exited (${device.exitCode})`);
        let live = false;
        try {
          const list = JSON.parse(await placement.httpGet('/api/devices'));
          live = list.some((x) => x.id === DEVICE_ID && x.state === 'live');
        } catch {
          // not yet
        }
        if (live) break;
        if (Date.now() > liveUntil) throw new Error('the device was not live in 60 s');
        await sleep(200);
      }
      result.device_live_ms = Date.now() - deviceStartedAt;
      await openViewer();
    }

    // Frames painted, polled until the end of the run.
    const frames = [];
    let from = 0;
    let lostRecords = 0;
    const endAt = deviceStartedAt + seconds * 1000;
    while (Date.now() < endAt) {
      if (device.exitCode !== null) throw new Error(`cellrtc-device exited (${device.exitCode})`);
      if (server.exitCode !== null) throw new Error('cellrtc-server exited');
      const got = await withTimeout(page.evaluate((f) => window.cellrtcViewer.frames(f), from),
                                    10000, 'reading frames');
      frames.push(...got.frames);
      lostRecords += got.lost;
      from = got.next;
      await sleep(Math.min(1000, Math.max(0, endAt - Date.now())));
    }
    // The path the page shows while the device still streams (after it stops, the page asks
    // again and may be served by the relay).
    const metricsAtEnd = parseMetrics(await placement.httpGet('/metrics').catch(() => ''));
    const pathAtEnd = await page.evaluate(() => {
      const st = window.cellrtcViewer.stats();
      return { path: st.path, transport: st.transport, candidateType: st.candidateType,
               remoteCandidateType: st.remoteCandidateType, rttMs: st.rttMs };
    }).catch(() => null);
    // The counters once the device has stopped (its session ended) and what was in flight
    // has arrived, so that sent, received and dropped add up.
    await stopChild(device, 10000);
    device = null;
    await sleep(1500);
    const viewerStats = await page.evaluate(() => window.cellrtcViewer.stats());
    const viewerTiming = await page.evaluate(() => window.cellrtcViewer.timing());
    const metricsBefore = parseMetrics(await placement.httpGet('/metrics'));

    Object.assign(result, analyse({ profile, pacing, deviceStartedAt, endAt, frames, lostRecords,
                                    device: device_records, viewerStats, viewerTiming,
                                    metrics: metricsBefore, linkStartedAt,
                                    whep: whep.filter((w) => w.posted_at < endAt)
                                        .map(({ request, ...w }) => w), pathAtEnd, metricsAtEnd,
                                    direct: Boolean(how.direct) }));
    result.viewer_console = consoleLines.slice(-10);
    result.load_average.end = os.loadavg().map((x) => round(x, 2));
    writeFileSync(join(outDir, `${tag}.json`), `${JSON.stringify(result, null, 1)}\n`);
    writeSeries(outDir, tag, { ...result, small_plot: args.smallPlots });
  } finally {
    if (browser) await withTimeout(browser.close(), 10000, 'closing Chromium').catch(() => {});
    await stopChild(device);
    await stopChild(server);
    await placement.down();
  }
  return result;
}

// RFC 8839 section 5.1 (as in tests/browser/viewer_driver.mjs): only 127.0.0.0/8 candidates.
function loopbackOnlySdp(sdp) {
  const kept = [];
  let media = -1;
  for (const line of sdp.split(/\r\n/)) {
    if (line.startsWith('m=')) media = kept.length;
    if (line.startsWith('a=candidate:')) {
      const fields = line.replace(/^a=candidate:/, '').trim().split(/\s+/);
      if (!(fields.length >= 6 && /^127\.\d+\.\d+\.\d+$/.test(fields[4]))) continue;
    }
    const c = /^c=IN IP[46] (\S+)$/.exec(line);
    if (media >= 0 && c && !/^127\./.test(c[1]) && c[1] !== '0.0.0.0') {
      kept.push('c=IN IP4 0.0.0.0');
      kept[media] = kept[media].replace(/^(m=\S+ )\d+/, '$19');
      continue;
    }
    kept.push(line);
  }
  return kept.join('\r\n');
}

function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(cellrtc_[a-z_]+)(\{[^}]*\})? (\d+(?:\.\d+)?)$/.exec(line.trim());
    if (m) out[m[1] + (m[2] || '')] = Number(m[3]);
  }
  return out;
}

// --- numbers ----------------------------------------------------------------------------------

function analyse({ profile, pacing, deviceStartedAt, endAt, frames, lostRecords, device,
                   viewerStats, viewerTiming, metrics, linkStartedAt, whep, direct, pathAtEnd,
                   metricsAtEnd }) {
  const r = {};
  const tl = device.timeline[0] || null;
  const ms = (us) => (us === null || us === undefined ? null : us / 1000);
  r.device_started_at = deviceStartedAt;
  r.sessions = device.timeline.length;
  // The path the first session took: the selected pair's path ("udp", "tcp" for ICE-TCP,
  // "turn-udp", "turn-tcp" or "turn-tls" for a relay by its transport to the TURN server; runs
  // recorded before the device named relays said "udp" for every relay), and the TURN allocations (which server, how long the allocation took after the answer).
  r.transport = tl ? tl.transport ?? null : null;
  r.relay_allocations = device.relay.map((x) => {
    const m = /^allocated (\S+) on (\S+) in (\d+(?:\.\d+)?) ms/.exec(x.message);
    return m ? { relayed: m[1], uri: m[2], allocation_ms: Number(m[3]),
                 t: round((x.at - deviceStartedAt) / 1000, 2) } : null;
  }).filter(Boolean);
  r.relay_log = device.relay.map((x) => `${round((x.at - deviceStartedAt) / 1000, 2)} s: ${x.message}`);
  const offsetMs = tl ? tl.clock_offset_us / 1000 : null;
  const firstPaint = viewerTiming && viewerTiming.firstFrameDrawnAt;
  if (tl) {
    const at = {
      post: ms(tl.post_sent_us), answer: ms(tl.answered_us), ice: ms(tl.ice_connected_us),
      dtls: ms(tl.dtls_connected_us), sctp: ms(tl.sctp_connected_us),
      channels: ms(tl.channels_open_us), first_sent: ms(tl.first_frame_sent_us),
    };
    const span = (a, b) => (a !== null && b !== null ? round(b - a) : null);
    r.setup_ms = {
      device_start_to_post: span(deviceStartedAt, at.post),
      http: span(at.post, at.answer), ice: span(at.answer, at.ice), dtls: span(at.ice, at.dtls),
      sctp: span(at.dtls, at.sctp), channels: span(at.sctp, at.channels),
      first_frame_sent: span(at.channels, at.first_sent),
      first_frame_painted: firstPaint ? span(at.first_sent, firstPaint) : null,
    };
    r.ttff_ms = {
      from_device_start: firstPaint ? round(firstPaint - deviceStartedAt) : null,
      from_whip_post: firstPaint ? round(firstPaint - at.post) : null,
    };
  }
  // Per frame: capture time on the wall clock, latency to the paint.
  const painted = frames.map((f) => ({
    ...f,
    t: (f.displayedAt - deviceStartedAt) / 1000,  // s since the device started
    latency: offsetMs === null ? null : f.displayedAt - (f.captureUs / 1000 + offsetMs),
    captured: offsetMs === null ? null : f.captureUs / 1000 + offsetMs,
  }));
  r.frames_painted = painted.length;
  r.frame_records_lost = lostRecords;
  const lat = painted.map((f) => f.latency).filter((x) => x !== null);
  r.latency_ms = { p50: round(percentile(lat, 0.5)), p95: round(percentile(lat, 0.95)),
                   p99: round(percentile(lat, 0.99)), max: round(percentile(lat, 1)) };
  // Steady numbers: from 5 s after the first paint to the end.
  const steadyFrom = firstPaint ? firstPaint + 5000 : endAt;
  const steady = painted.filter((f) => f.displayedAt >= steadyFrom);
  const steadySeconds = Math.max(0.001, (endAt - steadyFrom) / 1000);
  r.fps = round(steady.length / steadySeconds, 2);
  r.frame_bytes_mean = round(steady.reduce((s, f) => s + f.bytes, 0) / Math.max(1, steady.length));
  const sizes = new Map();
  for (const f of steady) sizes.set(`${f.width}x${f.height}`, (sizes.get(`${f.width}x${f.height}`) || 0) + 1);
  r.frame_sizes = Object.fromEntries([...sizes.entries()].sort((a, b) => b[1] - a[1]));
  r.quality_mean = round(steady.reduce((s, f) => s + f.quality, 0) / Math.max(1, steady.length), 1);
  r.painted_kbps = round(steady.reduce((s, f) => s + f.bytes, 0) * 8 / steadySeconds / 1000, 1);
  // Utilisation: frame bytes the server received, over the uplink's capacity from the first
  // frame sent to the end.
  const bytesIn = metrics.cellrtc_bytes_in_total;
  const sentFrom = tl ? ms(tl.first_frame_sent_us) : null;
  let capacityBits = 0;
  let unlimited = false;
  if (sentFrom !== null && Number.isFinite(bytesIn)) {
    for (let t = sentFrom; t < endAt; t += 100) {
      const c = profile.capacityAt((t - linkStartedAt) / 1000);
      if (c === null && profile.name !== 'loopback' && !profile.outages.some(
        (o) => (t - linkStartedAt) / 1000 >= o.from_s && (t - linkStartedAt) / 1000 < o.to_s)) {
        unlimited = true;
      }
      capacityBits += (c || 0) * 1000 * Math.min(0.1, (endAt - t) / 1000);
    }
    r.server_kbps_in = round(bytesIn * 8 / Math.max(0.001, (endAt - sentFrom) / 1000) / 1000, 1);
    r.utilisation = capacityBits > 0 && !unlimited ? round(bytesIn * 8 / capacityBits, 3) : null;
  }
  // Drops along the path.
  const sum = device.summary || {};
  r.drops = {
    device_sent: sum.frames_sent ?? null,
    device_dropped: sum.frames_dropped ?? null,
    // Sent by the device, never received by the server: lost on the unordered channel, or (the
    // fixed pacing's reliable channel) still queued in the device's transport when it stopped.
    uplink_missing: Number.isFinite(sum.frames_sent) && Number.isFinite(metrics.cellrtc_frames_in_total)
        ? Math.max(0, sum.frames_sent - metrics.cellrtc_frames_in_total) : null,
    server_in: metrics.cellrtc_frames_in_total ?? null,
    server_dropped: metrics.cellrtc_frames_dropped_total ?? null,
    server_out: metrics.cellrtc_frames_out_total ?? null,
    viewer_received: viewerStats.framesReceived,
    downlink_lost: Number.isFinite(metrics.cellrtc_frames_out_total)
        ? Math.max(0, metrics.cellrtc_frames_out_total - viewerStats.framesReceived) : null,
    viewer_skipped: viewerStats.framesSkipped,
    viewer_late: viewerStats.framesStale,
    viewer_painted: viewerStats.framesDrawn,
    viewer_missing: viewerStats.framesMissing ?? null,
  };
  r.device = { summary: device.summary, sessions: device.timeline.length,
               states: device.states.map((s) => ({ t: round((s.at - deviceStartedAt) / 1000, 2),
                                                   state: s.state, message: s.message })) };
  r.viewer = { sessions: viewerStats.sessions, page_latency_ms: viewerStats.latencyMs,
               states: viewerStats.states };
  // The SCTP associations' recovery counters from the device's stats lines (cumulative per
  // association; a value below the previous one is a new association, counted from zero): the
  // relay session's and the direct viewers' summed.
  const counted = (key) => {
    let total = 0;
    let last = 0;
    let seen = false;
    for (const st of device.stats) {
      const v = st[key];
      if (!Number.isFinite(v)) continue;
      seen = true;
      total += v >= last ? v - last : v;
      last = v;
    }
    return seen ? total : null;
  };
  const recoveryOf = (prefix) => ({
    fast_retransmits: counted(`${prefix}sctp_fast_retransmits`),
    retransmitted_chunks: counted(`${prefix}sctp_retransmitted_chunks`),
    t3_timeouts: counted(`${prefix}sctp_t3_timeouts`),
    backoff_probes: counted(`${prefix}sctp_backoff_probes`),
  });
  r.sctp = { relay_session: recoveryOf(''), direct_viewers: recoveryOf('direct_') };
  r.whep = (whep || []).map((w) => ({
    posted_s: round((w.posted_at - deviceStartedAt) / 1000, 2), status: w.status ?? null,
    path: w.path ?? null,
    answer_ms: w.answered_at ? round(w.answered_at - w.posted_at) : null,
  }));
  // What the page showed at the run's end, before the device stopped.
  r.viewer_path = pathAtEnd?.path ?? null;
  r.viewer_transport = pathAtEnd?.transport ?? null;
  r.viewer_candidates = pathAtEnd ? `${pathAtEnd.candidateType ?? '-'}/` +
                                    `${pathAtEnd.remoteCandidateType ?? '-'}` : null;
  r.viewer_rtt_ms = pathAtEnd?.rttMs ?? null;
  if (direct) {
    // Direct mode, per WHEP POST of the page: the viewer's request to the device's answer (its
    // log line, read as the device wrote it; the next one after the POST), to the 201 at the
    // viewer, to the device's "connected" (video channel open); the server gives up on an
    // answer after 5 s (504), and an answer without a usable candidate fails its checks: the
    // page then asks again. The headline figures are the first request's; first_paint_ms
    // counts from the request that was answered last before the first paint.
    const posts = (whep || []).filter((w) => w.posted_at).sort((a, b) => a.posted_at - b.posted_at);
    const requests = posts.map((w, i) => {
      const until = i + 1 < posts.length ? posts[i + 1].posted_at : Infinity;
      const inside = (x) => x.at >= w.posted_at - 50 && x.at < until;
      const answered = device.direct.find((x) => inside(x) && / answered with /.test(x.message));
      const connected = device.direct.find((x) => inside(x) && / connected$/.test(x.message));
      const relayed = answered ? /, (\d+) relayed/.exec(answered.message) : null;
      return {
        posted_s: round((w.posted_at - deviceStartedAt) / 1000, 2), status: w.status ?? null,
        path: w.path ?? null,
        device_answered_ms: answered ? round(answered.at - w.posted_at) : null,
        relayed_candidates: relayed ? Number(relayed[1]) : null,
        gather_limit_hit: answered ? / had not answered yet/.test(answered.message) : null,
        answer_at_viewer_ms: w.answered_at ? round(w.answered_at - w.posted_at) : null,
        device_connected_ms: connected ? round(connected.at - w.posted_at) : null,
      };
    });
    const first = requests[0] || {};
    const lastBeforePaint = firstPaint ? posts.filter((w) => w.posted_at < firstPaint).pop() : null;
    const m = metricsAtEnd || {};
    r.direct = {
      requests: requests.length,
      per_request: requests,
      timeouts: m.cellrtc_direct_timeouts_total ?? null,
      to_relay: m.cellrtc_direct_to_relay_total ?? null,
      answered: m.cellrtc_direct_answered_total ?? null,
      device_answered_ms: first.device_answered_ms ?? null,
      answer_at_viewer_ms: first.answer_at_viewer_ms ?? null,
      device_connected_ms: first.device_connected_ms ?? null,
      first_relayed_candidates: first.relayed_candidates ?? null,
      // Over all requests: answers sent at the gathering limit, answers without a relayed
      // candidate (behind two symmetric NATs nothing else can connect), the slowest answer.
      gather_limit_hits: requests.filter((x) => x.gather_limit_hit).length,
      answers_without_relay: requests.filter((x) => x.relayed_candidates === 0).length,
      answer_at_viewer_max_ms: requests.reduce((a, x) => Math.max(a, x.answer_at_viewer_ms ?? 0),
                                               0) || null,
      first_paint_ms: firstPaint && lastBeforePaint ? round(firstPaint - lastBeforePaint.posted_at)
                                                    : null,
      first_paint_from_first_request_ms: firstPaint && posts.length
        ? round(firstPaint - posts[0].posted_at) : null,
      log: device.direct.map((x) => `${round((x.at - deviceStartedAt) / 1000, 2)} s: ${x.message}`),
    };
    r.ttff_ms = { ...(r.ttff_ms || {}),
                  from_viewer_request: r.direct.first_paint_from_first_request_ms };
    // Frames the viewer received (its own sequence numbers from the device, so gaps are frames
    // lost on the way), and the uplink's use by both streams: the relay session's frames (the
    // device keeps publishing to the server) and the direct viewer's.
    r.direct_kbps = round(viewerStats.bytesReceived * 8 /
                          Math.max(0.001, (endAt - (firstPaint || endAt)) / 1000) / 1000, 1);
    r.utilisation_with_direct = capacityBits > 0 && !unlimited && Number.isFinite(bytesIn)
      ? round((bytesIn + viewerStats.bytesReceived) * 8 / capacityBits, 3) : null;
  }
  // Phases of the profile's schedule, on the time since the device started.
  const linkOffset = (linkStartedAt - deviceStartedAt) / 1000;
  const firstPaintT = firstPaint ? (firstPaint - deviceStartedAt) / 1000 : 0;
  if (profile.segments) {
    r.phases = profile.segments.map((s) => {
      // Frame rates count from the first frame painted.
      const from = Math.max(s.from_s + linkOffset, firstPaintT);
      const to = Math.min(s.to_s + linkOffset, (endAt - deviceStartedAt) / 1000);
      const inside = painted.filter((f) => f.t >= from && f.t < to);
      const l = inside.map((f) => f.latency).filter((x) => x !== null);
      return { what: s.what, from_s: round(from, 1), to_s: round(to, 1), capacity_kbps: s.kbps,
               fps: to > from ? round(inside.length / (to - from), 2) : null,
               latency_ms_p50: round(percentile(l, 0.5)), latency_ms_p95: round(percentile(l, 0.95)),
               latency_ms_p99: round(percentile(l, 0.99)) };
    }).filter((p) => p.to_s > p.from_s);
    r.recovery = profile.outages.map((o) => {
      const back = linkStartedAt + o.to_s * 1000;
      const next = painted.find((f) => f.displayedAt >= back);
      const fresh = painted.find((f) => f.captured !== null && f.captured >= back);
      // The device's ICE restart around this outage: when it began (negative: before the link
      // came back) and when it connected, relative to the link coming back.
      const restart = device.states.findIndex((s) => s.state === 'restarting-ice' &&
                                                   s.at >= linkStartedAt + o.from_s * 1000);
      const restartAt = restart >= 0 ? device.states[restart].at : null;
      const connected = restart >= 0
        ? device.states.slice(restart + 1).find((s) => s.state === 'streaming') : null;
      return {
        outage_from_s: round(o.from_s + linkOffset, 1), link_back_s: round(o.to_s + linkOffset, 1),
        restart_started_ms: restartAt !== null ? round(restartAt - back) : null,
        restart_connected_ms: connected ? round(connected.at - back) : null,
        first_paint_after_ms: next ? round(next.displayedAt - back) : null,
        first_fresh_frame_ms: fresh ? round(fresh.displayedAt - back) : null,
      };
    });
  }
  // Time series, per second since the device started.
  const series = [];
  const lastSecond = Math.floor((endAt - deviceStartedAt) / 1000);
  for (let sec = 0; sec < lastSecond; ++sec) {
    const inside = painted.filter((f) => f.t >= sec && f.t < sec + 1);
    const l = inside.map((f) => f.latency).filter((x) => x !== null);
    series.push({
      t: sec, fps: inside.length, kbps: round(inside.reduce((s, f) => s + f.bytes, 0) * 8 / 1000, 1),
      latency_p50: round(percentile(l, 0.5)), latency_max: round(percentile(l, 1)),
      capacity_kbps: profile.capacityAt(sec + 0.5 - linkOffset) ?? (profile.name === 'loopback'
                                                                      ? null : 0),
    });
  }
  r.series = series;
  return r;
}

function writeSeries(outDir, tag, r) {
  const dat = join(outDir, `${tag}.dat`);
  const rows = ['# t_s fps kbps latency_p50_ms latency_max_ms capacity_kbps'];
  const v = (x) => (x === null || x === undefined ? 'NaN' : String(x));
  for (const s of r.series) {
    rows.push([s.t, s.fps, s.kbps, s.latency_p50, s.latency_max, s.capacity_kbps].map(v).join(' '));
  }
  writeFileSync(dat, `${rows.join('\n')}\n`);
  const png = join(outDir, `${tag}.png`);
  const title = `${r.profile}${r.path && r.path !== 'default' ? ` ${r.path}` : ''} / ${r.pacing}: p50 ${r.latency_ms.p50} ms, p95 ${r.latency_ms.p95} ms, ` +
                `${r.fps} fps`;
  const script = [
    r.small_plot ? 'set terminal png size 760,520 small' : 'set terminal pngcairo size 1000,700 font ",10"',
    `set output '${png}'`,
    'set multiplot layout 2,1',
    `set title "${title.replace(/"/g, "'")}"`,
    'set xlabel "seconds since the device started"',
    'set ylabel "capture to display, ms"',
    'set logscale y',
    'set grid',
    `plot '${dat}' using 1:4 with linespoints pt 7 ps 0.4 title 'p50 per second', ` +
      `'' using 1:5 with lines title 'max per second'`,
    'unset logscale y',
    'unset title',
    'set ylabel "kbit/s"',
    'set yrange [0:*]',
    'set y2label "frames per second"',
    'set y2range [0:*]',
    'set y2tics',
    `plot '${dat}' using 1:6 with steps lw 2 title 'uplink capacity', ` +
      `'' using 1:3 with lines title 'frame bits painted', ` +
      `'' using 1:2 axes x1y2 with steps title 'fps painted'`,
    'unset multiplot',
  ].join('\n');
  const gp = join(outDir, `${tag}.gp`);
  writeFileSync(gp, `${script}\n`);
  const g = runSync('gnuplot', [gp], 30000);
  if (g.status !== 0) log(`gnuplot ${gp}: ${g.stderr.trim().slice(0, 500)}`);
}

// --- table ------------------------------------------------------------------------------------

const HEADER = ['profile', 'pacing', 'ttff', 'post>ff', 'http', 'ice', 'dtls', 'sctp', 'fps',
                'KB', 'util', 'p50', 'p95', 'p99', 'dev.drop', 'up.miss', 'srv.drop',
                'view.skip', 'recovery'];
function tableRow(r) {
  const f = (x, digits = 0) => (x === null || x === undefined ? '-' : Number(x).toFixed(digits));
  const rec = (r.recovery || []).map((x) => `${f(x.first_paint_after_ms)}/${f(x.first_fresh_frame_ms)}`)
      .join(',') || '-';
  const path = r.path && r.path !== 'default' ? `${r.profile}/${r.path}` : r.profile;
  return [path, r.pacing, f(r.ttff_ms?.from_device_start), f(r.ttff_ms?.from_whip_post),
          f(r.setup_ms?.http), f(r.setup_ms?.ice), f(r.setup_ms?.dtls), f(r.setup_ms?.sctp),
          f(r.fps, 1), f(r.frame_bytes_mean / 1000, 1),
          r.utilisation === null || r.utilisation === undefined ? '-' : `${f(r.utilisation * 100)}%`,
          f(r.latency_ms?.p50), f(r.latency_ms?.p95), f(r.latency_ms?.p99),
          f(r.drops?.device_dropped), f(r.drops?.uplink_missing), f(r.drops?.server_dropped),
          f((r.drops?.viewer_skipped ?? 0) + (r.drops?.viewer_late ?? 0)), rec];
}
function printRow(cells) {
  const widths = [24, 8, 6, 7, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 8, 7, 8, 9, 12];
  process.stdout.write(`${cells.map((c, i) => String(c).padStart(widths[i])).join(' ')}\n`);
}

// Medians of the numbers over repeated runs (the first run's for the rest).
function medianRun(runs) {
  if (runs.length === 1) return runs[0];
  const m = structuredClone(runs[0]);
  const pick = (get, set) => set(median(runs.map(get)));
  pick((r) => r.ttff_ms?.from_device_start, (v) => { m.ttff_ms.from_device_start = v; });
  pick((r) => r.ttff_ms?.from_whip_post, (v) => { m.ttff_ms.from_whip_post = v; });
  for (const k of ['http', 'ice', 'dtls', 'sctp', 'channels', 'first_frame_sent',
                   'first_frame_painted']) {
    pick((r) => r.setup_ms?.[k], (v) => { m.setup_ms[k] = v; });
  }
  for (const k of ['fps', 'frame_bytes_mean', 'utilisation', 'painted_kbps', 'server_kbps_in']) {
    pick((r) => r[k], (v) => { m[k] = v; });
  }
  for (const k of ['p50', 'p95', 'p99', 'max']) pick((r) => r.latency_ms?.[k], (v) => { m.latency_ms[k] = v; });
  for (const k of Object.keys(m.drops || {})) pick((r) => r.drops?.[k], (v) => { m.drops[k] = v; });
  (m.recovery || []).forEach((x, i) => {
    pick((r) => r.recovery?.[i]?.first_paint_after_ms, (v) => { x.first_paint_after_ms = v; });
    pick((r) => r.recovery?.[i]?.first_fresh_frame_ms, (v) => { x.first_fresh_frame_ms = v; });
    pick((r) => r.recovery?.[i]?.restart_started_ms, (v) => { x.restart_started_ms = v; });
    pick((r) => r.recovery?.[i]?.restart_connected_ms, (v) => { x.restart_connected_ms = v; });
    x.all_first_paint_after_ms = runs.map((r) => r.recovery?.[i]?.first_paint_after_ms ?? null);
  });
  if (m.relay_allocations?.length) {
    pick((r) => r.relay_allocations?.[0]?.allocation_ms,
         (v) => { m.relay_allocations[0].allocation_ms = v; });
  }
  pick((r) => r.ttff_ms?.from_viewer_request, (v) => { if (m.ttff_ms) m.ttff_ms.from_viewer_request = v; });
  pick((r) => r.utilisation_with_direct, (v) => { m.utilisation_with_direct = v; });
  pick((r) => r.direct_kbps, (v) => { m.direct_kbps = v; });
  pick((r) => r.device_live_ms, (v) => { m.device_live_ms = v; });
  for (const part of ['relay_session', 'direct_viewers']) {
    for (const k of Object.keys(m.sctp?.[part] || {})) {
      pick((r) => r.sctp?.[part]?.[k], (v) => { m.sctp[part][k] = v; });
    }
  }
  if (m.direct) {
    for (const k of ['device_answered_ms', 'answer_at_viewer_ms', 'device_connected_ms',
                     'first_paint_ms', 'first_paint_from_first_request_ms', 'timeouts',
                     'to_relay', 'answered']) {
      pick((r) => r.direct?.[k], (v) => { m.direct[k] = v; });
    }
    m.all_device_answered_ms = runs.map((r) => r.direct?.device_answered_ms ?? null);
    m.all_answer_at_viewer_ms = runs.map((r) => r.direct?.answer_at_viewer_ms ?? null);
    m.all_direct_timeouts = runs.map((r) => r.direct?.timeouts ?? null);
    m.all_direct_requests = runs.map((r) => r.direct?.requests ?? null);
    m.all_direct = runs.map((r) => ({ gather_limit_hits: r.direct?.gather_limit_hits ?? null,
                                      answers_without_relay: r.direct?.answers_without_relay ?? null,
                                      requests: r.direct?.requests ?? null }));
    m.all_first_relayed = runs.map((r) => r.direct?.first_relayed_candidates ?? null);
    m.all_first_paint_from_first_request_ms =
        runs.map((r) => r.direct?.first_paint_from_first_request_ms ?? null);
    m.all_viewer_paths = runs.map((r) => `${r.viewer_path ?? '-'} ${r.viewer_transport ?? '-'}`);
  }
  m.all_ttff_from_post_ms = runs.map((r) => r.ttff_ms?.from_whip_post ?? null);
  m.all_latency_p95_ms = runs.map((r) => r.latency_ms?.p95 ?? null);
  m.all_fps = runs.map((r) => r.fps ?? null);
  m.all_transports = runs.map((r) => r.transport ?? null);
  m.all_load_average = runs.map((r) => r.load_average ?? null);
  m.runs = runs.length;
  return m;
}

// --- main -------------------------------------------------------------------------------------

// The runs of a summary.json as the Markdown tables of docs/benchmarks.md.
function markdown(summary) {
  const f = (x, digits = 0) => (x === null || x === undefined ? '-' : Number(x).toFixed(digits));
  // A run's row name: its profile, and its path when --paths chose one.
  const label = (r) => (r.path && r.path !== 'default' ? `${r.profile} ${r.path}` : r.profile);
  summary = { runs: summary.runs.map((r) => ({ ...r, profile: label(r), path_name: r.path })) };
  const lines = [];
  const pathed = summary.runs.filter((r) => r.path_name && r.path_name !== 'default' && !r.direct);
  if (pathed.length) {
    const each = (list) => (list && list.length > 1 ? ` (${list.map((v) => f(v)).join(', ')})` : '');
    lines.push('| profile path | pacing | runs | selected pair | first frame from POST, ms (median; each run) | ' +
                 'HTTP | ICE (TURN allocation) | DTLS | SCTP | first frame sent to painted | fps | ' +
                 'latency p95, ms (each run) | utilisation | load average (1 min) at each start |',
               '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of pathed) {
      const turn = r.relay_allocations?.length ? ` (${f(r.relay_allocations[0].allocation_ms)})` : '';
      const transports = [...new Set(r.all_transports || [r.transport])].map((x) => x ?? '-').join('/');
      const pair = r.relay_allocations?.length && !transports.includes('turn-') ? `relayed ${transports}` : transports;
      const loads = (r.all_load_average || [r.load_average]).map((x) => f(x?.start?.[0], 1)).join(', ');
      lines.push(`| ${r.profile} | ${r.pacing} | ${r.runs || 1} | ${pair} | ` +
                 `${f(r.ttff_ms?.from_whip_post)}${each(r.all_ttff_from_post_ms)} | ` +
                 `${f(r.setup_ms?.http)} | ${f(r.setup_ms?.ice)}${turn} | ${f(r.setup_ms?.dtls)} | ` +
                 `${f(r.setup_ms?.sctp)} | ${f(r.setup_ms?.first_frame_painted)} | ${f(r.fps, 1)} | ` +
                 `${f(r.latency_ms?.p95)}${each(r.all_latency_p95_ms)} | ` +
                 `${r.utilisation === null || r.utilisation === undefined ? '-'
                                                                          : `${f(r.utilisation * 100)} %`} | ` +
                 `${loads} |`);
    }
    lines.push('');
  }
  lines.push(
    '| profile | pacing | first frame from start / from POST, ms | HTTP | ICE | DTLS | SCTP | ' +
      'first frame sent to painted | fps | KB/frame | size | utilisation | latency p50 / p95 / p99, ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of summary.runs) {
    const size = Object.keys(r.frame_sizes || {})[0] || '-';
    // A direct row: from the viewer's first WHEP POST; the phases of the device's own WHIP
    // session are not the direct connection's (the direct table has its steps).
    const setup = r.direct ? {} : r.setup_ms || {};
    const fromPost = r.direct ? r.ttff_ms?.from_viewer_request : r.ttff_ms?.from_whip_post;
    lines.push(`| ${r.profile} | ${r.pacing} | ${f(r.ttff_ms?.from_device_start)} / ` +
               `${f(fromPost)} | ${f(setup.http)} | ${f(setup.ice)} | ` +
               `${f(setup.dtls)} | ${f(setup.sctp)} | ` +
               `${f(setup.first_frame_painted)} | ${f(r.fps, 1)} | ` +
               `${f(r.frame_bytes_mean / 1000, 1)} | ${size} | ` +
               `${r.utilisation === null || r.utilisation === undefined ? '-'
                                                                        : `${f(r.utilisation * 100)} %`} | ` +
               `${f(r.latency_ms?.p50)} / ${f(r.latency_ms?.p95)} / ${f(r.latency_ms?.p99)} |`);
  }
  lines.push('', '| profile | pacing | device sent / dropped | never reached the server | ' +
                 'server dropped | viewer skipped + late | painted | recovery after the outage: ' +
                 'first frame / first fresh frame, ms |', '|---|---|---|---|---|---|---|---|');
  for (const r of summary.runs) {
    const d = r.drops || {};
    const rec = (r.recovery || []).map((x) => `${f(x.first_paint_after_ms)} / ` +
                                             `${f(x.first_fresh_frame_ms)}`).join(', ') || '-';
    lines.push(`| ${r.profile} | ${r.pacing} | ${f(d.device_sent)} / ${f(d.device_dropped)} | ` +
               `${f(d.uplink_missing)} | ${f(d.server_dropped)} | ` +
               `${f((d.viewer_skipped ?? 0) + (d.viewer_late ?? 0))} | ${f(d.viewer_painted)} | ${rec} |`);
  }
  const recovered = summary.runs.filter((r) => (r.recovery || []).length);
  if (recovered.length) {
    lines.push('', '| profile | pacing | runs | ICE restart began / connected, ms from the link ' +
                   'coming back | first frame painted, ms (median; each run) | first fresh frame, ms |',
               '|---|---|---|---|---|---|');
    for (const r of recovered) {
      for (const x of r.recovery) {
        const each = (x.all_first_paint_after_ms || [x.first_paint_after_ms]).map((v) => f(v))
            .join(', ');
        lines.push(`| ${r.profile} | ${r.pacing} | ${r.runs || 1} | ${f(x.restart_started_ms)} / ` +
                   `${f(x.restart_connected_ms)} | ${f(x.first_paint_after_ms)} (${each}) | ` +
                   `${f(x.first_fresh_frame_ms)} |`);
      }
    }
  }
  const directs = summary.runs.filter((r) => r.direct);
  if (directs.length) {
    const each = (list) => (list && list.length > 1 ? ` (${list.map((v) => f(v)).join(', ')})` : '');
    lines.push('', '| profile path | runs | device live, ms from its start | WHEP requests ' +
                   '(each run) | 1st request to the device\'s answer, ms (median; each run) | ' +
                   'relayed candidates in it (each run) | 1st request to its 201 at the viewer, ms ' +
                   '(each run) | 1st request to the device\'s "connected", ms | first frame ' +
                   'painted from the 1st request, ms (each run) | first frame from the device\'s ' +
                   'start, ms | 504s (each run) | answers at the 2.5 s gathering limit / without a ' +
                   'relayed candidate, of all (each run) | path on the page | fps | latency p50 / p95 / ' +
                   'p99, ms | uplink use, relay session + direct | load average (1 min) at each start |',
               '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    const all = (list, one) => (list || [one]).map((v) => f(v)).join(', ');
    for (const r of directs) {
      const d = r.direct;
      const paths = [...new Set(r.all_viewer_paths || [`${r.viewer_path ?? '-'} ${r.viewer_transport ?? '-'}`])]
          .join(' / ');
      const loads = (r.all_load_average || [r.load_average]).map((x) => f(x?.start?.[0], 1)).join(', ');
      lines.push(`| ${r.profile} | ${r.runs || 1} | ${f(r.device_live_ms)} | ` +
                 `${all(r.all_direct_requests, d.requests)} | ` +
                 `${f(d.device_answered_ms)}${each(r.all_device_answered_ms)} | ` +
                 `${all(r.all_first_relayed, d.first_relayed_candidates)} | ` +
                 `${f(d.answer_at_viewer_ms)}${each(r.all_answer_at_viewer_ms)} | ` +
                 `${f(d.device_connected_ms)} | ` +
                 `${f(d.first_paint_from_first_request_ms)}${each(r.all_first_paint_from_first_request_ms)} | ` +
                 `${f(r.ttff_ms?.from_device_start)} | ${all(r.all_direct_timeouts, d.timeouts)} | ` +
                 `${(r.all_direct || [d]).map((x) => `${f(x?.gather_limit_hits)} / ` +
                                                     `${f(x?.answers_without_relay)} of ${f(x?.requests)}`)
                   .join(', ')} | ` +
                 `${paths} | ${f(r.fps, 1)} | ` +
                 `${f(r.latency_ms?.p50)} / ${f(r.latency_ms?.p95)} / ${f(r.latency_ms?.p99)} | ` +
                 `${r.utilisation_with_direct === null || r.utilisation_with_direct === undefined
                   ? '-' : `${f(r.utilisation_with_direct * 100)} %`} | ${loads} |`);
    }
  }
  const counted = summary.runs.filter((r) => r.sctp && Object.values(r.sctp.relay_session || {})
                                                        .some((v) => v !== null));
  if (counted.length) {
    const c = (x) => (x ? `${f(x.fast_retransmits)} / ${f(x.retransmitted_chunks)} / ` +
                          `${f(x.t3_timeouts)} / ${f(x.backoff_probes)}` : '-');
    lines.push('', '| profile | pacing | relay session\'s SCTP: chunks marked for fast ' +
                   'retransmit / chunks retransmitted / T3 expirations / backoff probes | ' +
                   'direct viewers\' SCTP (summed) |',
               '|---|---|---|---|');
    for (const r of counted) {
      lines.push(`| ${r.profile} | ${r.pacing} | ${c(r.sctp.relay_session)} | ` +
                 `${r.direct ? c(r.sctp.direct_viewers) : '-'} |`);
    }
  }
  const phased = summary.runs.filter((r) => (r.phases || []).length > 1);
  if (phased.length) {
    lines.push('', '| profile | pacing | phase (s since the device started) | uplink kbit/s | fps | ' +
                   'latency p50 / p95 / p99, ms |', '|---|---|---|---|---|---|');
    for (const r of phased) {
      for (const p of r.phases) {
        lines.push(`| ${r.profile} | ${r.pacing} | ${p.what} (${f(p.from_s)}-${f(p.to_s)}) | ` +
                   `${f(p.capacity_kbps)} | ${f(p.fps, 1)} | ${f(p.latency_ms_p50)} / ` +
                   `${f(p.latency_ms_p95)} / ${f(p.latency_ms_p99)} |`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

async function main() {
  if (process.argv[2] === '--markdown') {
    // One or more summaries: their runs in one set of tables, in the order given.
    const asJson = process.argv[3] === '--json';
    const files = process.argv.slice(asJson ? 4 : 3);
    if (!files.length) throw new Error('--markdown needs the summary.json files');
    // A summary's rows as they are; single runs' files (OUT/<profile>-<pacing>[-N].json) as
    // the median of those of the same profile and pacing, in order of appearance.
    const runs = [];
    const groups = new Map();
    for (const file of files) {
      const data = JSON.parse(readFileSync(file, 'utf8'));
      if (Array.isArray(data.runs)) {
        runs.push(...data.runs);
        continue;
      }
      // Runs written before recovery recorded the ICE restart: from the device's states.
      for (const x of data.recovery || []) {
        if (x.restart_started_ms !== undefined) continue;
        const states = data.device?.states || [];
        const i = states.findIndex((st) => st.state === 'restarting-ice' &&
                                           st.t >= x.outage_from_s - 1);
        const back = i >= 0 ? states.slice(i + 1).find((st) => st.state === 'streaming') : null;
        x.restart_started_ms = i >= 0 ? round((states[i].t - x.link_back_s) * 1000) : null;
        x.restart_connected_ms = back ? round((back.t - x.link_back_s) * 1000) : null;
      }
      // Direct runs written before the answers' counts were kept: from their requests.
      if (data.direct?.per_request && data.direct.gather_limit_hits === undefined) {
        const reqs = data.direct.per_request;
        data.direct.gather_limit_hits = reqs.filter((x) => x.gather_limit_hit).length;
        data.direct.answers_without_relay = reqs.filter((x) => x.relayed_candidates === 0).length;
      }
      const key = `${data.profile}/${data.path || 'default'}/${data.pacing}`;
      if (!groups.has(key)) {
        groups.set(key, []);
        runs.push(key);
      }
      groups.get(key).push(data);
    }
    const rows = runs.map((r) => (typeof r === 'string' ? medianRun(groups.get(r)) : r));
    if (asJson) {
      const kept = rows.map(({ series, device, viewer, viewer_console, ...rest }) => ({
        ...rest, device_summary: device?.summary ?? null,
        device_states: (device?.states || []).map((st) => `${st.t} s ${st.state}`),
      }));
      process.stdout.write(`${JSON.stringify({ benchmark: 'cellular', runs: kept }, null, 1)}\n`);
      return 0;
    }
    process.stdout.write(markdown({ runs: rows }));
    return 0;
  }
  const args = parseArgs(process.argv);
  if (args.help) {
    const text = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    process.stdout.write(`${text.split('\n').slice(1, text.split('\n').findIndex((l, i) => i > 0 && !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, ''))
        .join('\n')}\n`);
    return 0;
  }
  for (const bin of ['server/cellrtc-server', 'device/cellrtc-device']) {
    if (!existsSync(join(args.bin, bin))) throw new Error(`${join(args.bin, bin)} is missing: build it`);
  }
  mkdirSync(args.out, { recursive: true });
  const placement = args.placement === 'lab' ? new Lab(args) : new Loopback(args);
  if (placement.check) {
    try {
      placement.check();
    } catch (e) {
      if (!args.smoke) throw e;
      log(`smoke: skipped: ${e.message}`);
      return 77;  // ctest's SKIP_RETURN_CODE
    }
  }
  const profiles = args.profiles.map(loadProfile);

  // The whole bench is bounded: every run's length plus three minutes for setup and teardown.
  const budget = profiles.reduce((s, p) => s + (args.seconds || Math.max(60,
    Math.ceil(p.schedule_end_s || 0) + 30)) + 180, 0) * args.pacings.length * args.paths.length *
    args.repeat;
  const lifetime = setTimeout(() => {
    log(`over the time budget of ${budget} s: stopping`);
    killAllNow();
    if (placement instanceof Lab) placement.down().finally(() => process.exit(2));
    else process.exit(2);
  }, budget * 1000);
  lifetime.unref();
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, async () => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: stopping`);
      killAllNow();
      await placement.down();
      process.exit(130);
    });
  }
  process.on('exit', killAllNow);

  const summary = { benchmark: 'cellular', placement: args.placement, started: new Date().toISOString(),
                    runs: [] };
  printRow(HEADER);
  let failures = 0;
  for (const profile of profiles) {
    for (const path of args.paths) {
      for (const pacing of args.pacings) {
        if (PATHS[path].direct && pacing !== 'adaptive') {
          log(`${profile.name}/${path}/${pacing}: skipped (a direct viewer is always paced adaptively)`);
          continue;
        }
        const runs = [];
        for (let i = 0; i < args.repeat; ++i) {
          try {
            runs.push(await oneRun(args, placement, profile, path, pacing, i));
          } catch (e) {
            ++failures;
            log(`run ${profile.name}/${path}/${pacing} failed: ${e.stack || e.message}`);
          }
        }
        if (!runs.length) continue;
        const m = medianRun(runs);
        printRow(tableRow(m));
        const { series, ...rest } = m;
        summary.runs.push(rest);
      }
    }
  }
  summary.finished = new Date().toISOString();
  writeFileSync(join(args.out, 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
  log(`results in ${args.out}`);
  if (args.smoke) {
    const r = summary.runs[0];
    if (!r || !(r.frames_painted > 0)) {
      log('smoke: no frame was painted');
      return 1;
    }
  }
  return failures ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  log(e.stack || String(e));
  killAllNow();
  process.exit(2);
});
