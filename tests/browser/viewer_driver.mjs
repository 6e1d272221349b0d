#!/usr/bin/env node
// Drives viewer pages (web/) in headless Chromium for the browser tests, one JSON object per line
// on stdin/stdout. Every request carries an "id" that its answer repeats.
//
//   node tests/browser/viewer_driver.mjs [--timeout SECONDS] [--lab-network]
//
//   out {"type":"ready"}                                       once Chromium runs
//   in  {"id":N,"type":"open","url":U,"viewers":K}             K pages (own contexts) at U
//   in  {"id":N,"type":"devices","viewer":I}                   the page's device list
//   in  {"id":N,"type":"click","viewer":I,"device":D}          clicks D in the list (waits for it)
//   in  {"id":N,"type":"stats","viewer":I}                     window.cellrtcViewer.stats() and
//                                                              the overlay's texts
//   in  {"id":N,"type":"snapshot","viewer":I}                  clicks "Save current frame"; the
//                                                              download's size, first/last bytes
//   in  {"id":N,"type":"request_snapshot","viewer":I}          clicks "Request full-quality
//                                                              snapshot"; the download as above
//   in  {"id":N,"type":"set","viewer":I,"fps":F,...}           fills the settings form, submits
//   in  {"id":N,"type":"token","viewer":I,"token":T}           enters T in the token form
//   in  {"id":N,"type":"throttle","viewer":I,"kbps":K}         the page's network limited to
//                                                              K kbit/s down (CDP), 0 = off;
//                                                              for connections made afterwards
//   in  {"id":N,"type":"decode_delay","viewer":I,"ms":M}       slows that page's decoder
//   in  {"id":N,"type":"leave","viewer":I}                     navigates that page to about:blank
//   in  {"id":N,"type":"screenshot","viewer":I,"path":P}       a PNG of the page, for post-mortems
//   out {"id":N,"type":"ok",...}  or  {"id":N,"type":"error","error":TEXT}
//   in  {"type":"close"} or EOF                                closes Chromium, exits 0
//
// Loopback only: pages must be on 127.0.0.1. Chromium offers its LAN addresses as candidates
// (it never gathers 127.0.0.1); the WHEP offer a page posts is rewritten on its way to the server
// to hold only 127.0.0.0/8 candidates (none), so nothing is ever sent to a LAN address; the
// server's answer carries 127.0.0.1 and Chromium then checks from 127.0.0.1 (DESIGN.md section 5
// item 3, tests/interop/browser_peer.mjs). The script exits by itself after --timeout (default
// 50 s, status 2) and Chromium goes with it, whatever ends the script.
//
// --lab-network: the script runs inside the cellular lab's viewer namespace (docs/lab.md), whose
// only network is the lab's: pages are on the lab's server (203.0.113.0/24) and offers keep their
// candidates (the browser's lab address, behind the lab's NAT).

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const CHROMIUM = '/usr/bin/chromium';
const STEP_MS = 15000;

// As in tests/interop/browser_peer.mjs: Chromium honours only the last --disable-features and
// playwright passes one of its own, so ours repeats playwright-core 1.61's list (features that
// would reach the network among them) and adds WebRtcHideLocalIpsWithMdns (IP addresses, not
// mDNS names, as host candidates: they are dropped anyway).
const DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync', 'BoundaryEventDispatchTracksNodeRemoval',
  'DestroyProfileOnBrowserClose', 'DialMediaRouteProvider', 'GlobalMediaControls',
  'HttpsUpgrades', 'LensOverlay', 'MediaRouter', 'PaintHolding', 'ThirdPartyStoragePartitioning',
  'Translate', 'AutoDeElevate', 'RenderDocument', 'OptimizationHints',
  'WebRtcHideLocalIpsWithMdns',
];

function emit(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}
function log(text) {
  process.stderr.write(`[viewer_driver ${new Date().toISOString()}] ${text}\n`);
}
function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// RFC 8839 section 5.1: the connection address is a candidate's 5th field.
function isLoopbackCandidateLine(line) {
  const fields = line.replace(/^a=candidate:/, '').trim().split(/\s+/);
  return fields.length >= 6 && /^127\.\d+\.\d+\.\d+$/.test(fields[4]);
}
// The offer without candidates that are not on 127.0.0.0/8; a c= line naming such an address
// becomes RFC 8840 section 4.1.1's "no candidate yet" (IN IP4 0.0.0.0, port 9).
function loopbackOnlySdp(sdp) {
  const kept = [];
  let media = -1;
  for (const line of sdp.split(/\r\n/)) {
    if (line.startsWith('m=')) media = kept.length;
    if (line.startsWith('a=candidate:') && !isLoopbackCandidateLine(line)) continue;
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

function parseArgs(argv) {
  const args = { timeout: 50, labNetwork: false };
  for (let i = 2; i < argv.length; ++i) {
    if (argv[i] === '--timeout' && i + 1 < argv.length) args.timeout = Number(argv[++i]);
    else if (argv[i] === '--lab-network') args.labNetwork = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!(args.timeout > 0)) throw new Error('--timeout must be a positive number of seconds');
  return args;
}

async function main() {
  const args = parseArgs(process.argv);
  let browser = null;
  let stopping = false;
  const shutdown = async (code, why) => {
    if (stopping) return;
    stopping = true;
    log(`stopping: ${why}`);
    if (browser) {
      try {
        await withTimeout(browser.close(), 5000, 'closing Chromium');
      } catch (e) {
        log(e.message);  // playwright kills the browser's process group as node exits
      }
    }
    process.exit(code);
  };
  const lifetime = setTimeout(() => {
    emit({ type: 'error', error: `timeout after ${args.timeout} s` });
    shutdown(2, 'lifetime over');
  }, args.timeout * 1000);
  lifetime.unref();
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(signal, () => shutdown(0, signal));
  }

  const { chromium } = await import('playwright-core');
  browser = await withTimeout(chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    timeout: 30000,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-default-apps', '--disable-domain-reliability',
      // Viewers in the background must not be slowed down by the browser either.
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
      `--disable-features=${DISABLED_FEATURES.join(',')}`,
    ],
  }), 35000, 'launching Chromium');
  emit({ type: 'ready', version: browser.version() });

  // Clicks `button` and reads the file the page downloads: its name, size, first and last bytes.
  const download = async (page, button) => {
    const [file] = await Promise.all([
      page.waitForEvent('download', { timeout: STEP_MS }),
      page.click(button, { timeout: STEP_MS }),
    ]);
    const bytes = readFileSync(await file.path());
    return {
      name: file.suggestedFilename(),
      bytes: bytes.length,
      head: bytes.subarray(0, 4).toString('hex'),
      tail: bytes.subarray(Math.max(0, bytes.length - 2)).toString('hex'),
    };
  };

  const viewers = [];  // {context, page, cdp, console: []}
  const viewer = (i) => {
    if (!Number.isInteger(i) || i < 0 || i >= viewers.length) throw new Error(`no viewer ${i}`);
    return viewers[i];
  };

  const handlers = {
    async open(m) {
      const url = new URL(m.url);
      if (args.labNetwork) {
        if (!/^203\.0\.113\.\d+$/.test(url.hostname)) throw new Error(`not a lab page: ${m.url}`);
      } else if (!/^127\./.test(url.hostname)) {
        throw new Error(`not a loopback page: ${m.url}`);
      }
      const count = m.viewers || 1;
      for (let i = 0; i < count; ++i) {
        const context = await browser.newContext({ acceptDownloads: true });
        const page = await context.newPage();
        const v = { context, page, cdp: null, console: [] };
        page.on('console', (msg) => {
          v.console.push(`${msg.type()}: ${msg.text()}`);
          if (v.console.length > 50) v.console.shift();
        });
        page.on('pageerror', (e) => v.console.push(`pageerror: ${e.message}`));
        // Only loopback candidates reach the server (see the top of this file); in the lab the
        // browser's addresses are the lab's and stay. Only the offer's POST (/whep/<device>) is
        // intercepted: a session's DELETE goes out with keepalive while the page unloads, and a
        // route handler of the page being left does not always get to continue it.
        const offerUrl = (url) => /^\/whep\/[^/]+$/.test(url.pathname);
        if (!args.labNetwork) await page.route(offerUrl, async (route) => {
          const request = route.request();
          if (request.method() === 'POST' && request.postData()) {
            await route.continue({ postData: loopbackOnlySdp(request.postData()) });
          } else {
            await route.continue();
          }
        });
        await page.goto(m.url, { timeout: STEP_MS });
        viewers.push(v);
      }
      return { viewers: viewers.length };
    },
    async devices(m) {
      const { page } = viewer(m.viewer);
      return { devices: await page.evaluate(() => window.cellrtcViewer.devices()) };
    },
    async click(m) {
      const { page } = viewer(m.viewer);
      const button = page.locator(`#device-list button[data-device="${m.device}"]`);
      await button.click({ timeout: STEP_MS });
      return {};
    },
    async stats(m) {
      const v = viewer(m.viewer);
      // One evaluation, so the numbers and the overlay are read at the same moment of the page.
      const { stats, overlay } = await v.page.evaluate(() => {
        const text = (id) => document.getElementById(id).textContent;
        const overlayNow = {
          fps: text('o-fps'), kbps: text('o-kbps'), latency: text('o-latency'), age: text('o-age'),
          seq: text('o-seq'), dropped: text('o-dropped'), badge: text('badge'),
          path: text('o-path'), rtt: text('o-rtt'),
          notice: document.getElementById('notice').hidden ? '' : text('notice'),
          controlStatus: text('control-status'),
          tokenForm: !document.getElementById('token-form').hidden,
          signal: document.getElementById('signal').hidden ? ''
                                                           : text('signal-operator'),
          // The device's memory as shown: "Free heap 181 KB, Lowest 150 KB, PSRAM 7.9 MB".
          health: document.getElementById('health').hidden ? ''
            : [...document.querySelectorAll('#health > div')].filter((row) => !row.hidden)
                .map((row) => `${row.children[0].textContent} ${row.children[1].textContent}`)
                .join(', '),
        };
        return { stats: window.cellrtcViewer.stats(), overlay: overlayNow };
      });
      const timing = await v.page.evaluate(() => window.cellrtcViewer.timing());
      return { stats, overlay, timing, console: v.console.slice(-10) };
    },
    // "Save current frame": the JPEG on screen, downloaded.
    async snapshot(m) {
      return download(viewer(m.viewer).page, '#download-snapshot');
    },
    // "Request full-quality snapshot": the device sends one, the page downloads it on arrival.
    async request_snapshot(m) {
      return download(viewer(m.viewer).page, '#request-snapshot');
    },
    async set(m) {
      const { page } = viewer(m.viewer);
      if (m.fps !== undefined) await page.fill('#c-fps', String(m.fps));
      if (m.quality !== undefined) await page.fill('#c-quality', String(m.quality));
      if (m.resolution !== undefined) await page.selectOption('#c-resolution', m.resolution);
      await page.click('#controls button[type=submit]');
      return {};
    },
    async token(m) {
      const { page } = viewer(m.viewer);
      await page.fill('#token-input', m.token, { timeout: STEP_MS });
      await page.click('#token-form button[type=submit]', { timeout: STEP_MS });
      return {};
    },
    async throttle(m) {
      const v = viewer(m.viewer);
      if (!v.cdp) {
        v.cdp = await v.context.newCDPSession(v.page);
        await v.cdp.send('Network.enable');
      }
      const on = m.kbps > 0;
      await v.cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: on ? (m.latency_ms || 0) : 0,
        downloadThroughput: on ? (m.kbps * 1000) / 8 : -1,
        uploadThroughput: -1,
        packetLoss: m.packet_loss || 0,
        packetQueueLength: m.queue_packets || 0,
      });
      return {};
    },
    // Navigates the page away (pagehide: the page ends its WHEP session).
    async leave(m) {
      const { page } = viewer(m.viewer);
      await page.goto('about:blank', { timeout: STEP_MS });
      return {};
    },
    async screenshot(m) {
      const { page } = viewer(m.viewer);
      await page.screenshot({ path: m.path, fullPage: true });
      return { path: m.path };
    },
    async decode_delay(m) {
      const { page } = viewer(m.viewer);
      await page.evaluate((ms) => window.cellrtcViewer.setDecodeDelay(ms), m.ms);
      return {};
    },
  };

  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (stopping) break;
    if (!line.trim()) continue;
    let m;
    try {
      m = JSON.parse(line);
    } catch (e) {
      emit({ type: 'error', error: `not JSON: ${e.message}` });
      continue;
    }
    if (m.type === 'close') break;
    const handler = handlers[m.type];
    if (!handler) {
      emit({ id: m.id, type: 'error', error: `unknown request ${JSON.stringify(m.type)}` });
      continue;
    }
    try {
      emit({ id: m.id, type: 'ok', ...(await withTimeout(handler(m), STEP_MS * 2, m.type)) });
    } catch (e) {
      emit({ id: m.id, type: 'error', error: `${m.type}: ${e.message}` });
    }
  }
  await shutdown(0, 'closed');
}

main().catch((e) => {
  emit({ type: 'error', error: e.stack || String(e) });
  process.exit(1);
});
