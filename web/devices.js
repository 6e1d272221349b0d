// The server's list of devices: GET /api/devices once, then kept live by the WebSocket /ws
// (docs/protocol.md, "WebSocket events"), which is reopened with backoff whenever it closes.

import { Backoff } from './backoff.js';

const KNOWN_STATES = new Set(['live', 'reconnecting', 'offline']);

export class DeviceDirectory {
  // onChange(devices: Map<id, device>), onConnection({live: bool, error: string|null})
  constructor({ onChange, onConnection }) {
    this.devices = new Map();
    this.onChange = onChange;
    this.onConnection = onConnection;
    this.backoff = new Backoff({ initialMs: 1000, maxMs: 30000 });
    this.socket = null;
    this.retryTimer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.fetchList();
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close();
    this.socket = null;
  }

  async fetchList() {
    try {
      const response = await fetch('/api/devices', { cache: 'no-store' });
      if (!response.ok) throw new Error(`/api/devices answered ${response.status}`);
      this.replace(await response.json());
    } catch (e) {
      // The WebSocket's first message carries the same list; its retries report the outage.
      this.onConnection({ live: false, error: `server unreachable (${e.message})` });
    }
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/ws`);
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.backoff.reset();
      this.onConnection({ live: true, error: null });
    });
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;  // not ours to fix; the next event will do
      }
      this.apply(message);
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      const delay = this.backoff.next();
      this.onConnection({
        live: false,
        error: `live updates lost, retrying in ${(delay / 1000).toFixed(1)} s`,
      });
      // Every device's state is unknown while the events are missing.
      this.retryTimer = setTimeout(() => this.connect(), delay);
    });
  }

  // One event of /ws.
  apply(message) {
    if (!message || typeof message !== 'object') return;
    switch (message.type) {
      case 'devices':
        if (Array.isArray(message.devices)) this.replace(message.devices);
        return;
      case 'device': {
        const device = this.entry(message.id);
        if (!device) return;
        if (KNOWN_STATES.has(message.state)) {
          device.state = message.state;
          device.online = message.state !== 'offline';
        }
        break;
      }
      case 'stats': {
        const device = this.entry(message.id);
        if (!device) return;
        for (const key of ['fps', 'kbps', 'latency_ms', 'viewers']) {
          if (key in message) device[key] = message[key];
        }
        break;
      }
      case 'telemetry': {
        const device = this.entry(message.id);
        if (!device) return;
        const { type: _type, id: _id, ...telemetry } = message;
        device.telemetry = telemetry;
        break;
      }
      default:
        return;  // unknown events are ignored
    }
    this.onChange(this.devices);
  }

  replace(list) {
    if (!Array.isArray(list)) return;
    this.devices = new Map();
    for (const d of list) {
      if (d && typeof d.id === 'string') this.devices.set(d.id, { ...d });
    }
    this.onChange(this.devices);
  }

  // The device of an event; a device the list does not know yet is added (it just appeared).
  entry(id) {
    if (typeof id !== 'string' || id === '') return null;
    if (!this.devices.has(id)) this.devices.set(id, { id, state: 'offline', online: false });
    return this.devices.get(id);
  }
}
