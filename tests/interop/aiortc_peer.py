#!/usr/bin/python3
"""One aiortc RTCPeerConnection on loopback, driven over stdin/stdout with one JSON object per line.

Run with Debian's /usr/bin/python3 (python3-aiortc). It speaks the protocol of
browser_peer.mjs (described in full at the top of that file):

  out {"type":"ready","userAgent":"aiortc/VERSION"}
  in  {"type":"create_offer","channels":[{"label":L,"ordered":B,"maxRetransmits":N,
       "maxPacketLifeTime":MS,"negotiated":B,"id":N,"protocol":P}]}   out {"type":"offer","sdp":S}
  in  {"type":"offer","sdp":S}                     out {"type":"answer","sdp":S}
  in  {"type":"answer","sdp":S}
  in  {"type":"candidate","candidate":"candidate:...","sdpMid":"0"}, {"type":"end_of_candidates"}
  out {"type":"candidate",...} for each local candidate, then {"type":"end_of_candidates"}
  out {"type":"state","ice":S,"connection":S,"dtls":S}
  out {"type":"channel_open","label":L,"id":N}
  in  {"type":"send","label":L,"data":TEXT} or {"type":"send","label":L,"hex":HEX}
  out {"type":"message","label":L,"data":TEXT} or {"type":"message","label":L,"hex":HEX}
  in  {"type":"create_channel","channel":{"label":L,...}}   a channel at any time
  in  {"type":"close_channel","label":L}           out {"type":"channel_close","label":L}
  in  {"type":"get_stats"}                         out {"type":"stats",...}
  in  {"type":"close"} or EOF                      closes the connection and exits 0
  out {"type":"error","error":"..."}               for a line it cannot act on (it keeps going)

aiortc gathers all its candidates inside setLocalDescription, so its offer or answer always
holds every candidate (trickle is not offered); they are also printed one by one after it.

Loopback only: the RTCPeerConnection gets an explicit empty iceServers list (aiortc would
otherwise use a public STUN server), aioice's host addresses are replaced by 127.0.0.1 alone
(aioice leaves 127.0.0.1 out of them), and remote candidates that are not on a loopback
address are dropped (from SDPs) or refused (one by one), so no check goes anywhere else.

aiortc 1.4 advertises a=max-message-size:65536 although its SCTP reassembles and sends
messages of any size; --max-message-size (default 262144, what Chromium accepts) rewrites the
advertised value in the SDP it prints so that browsers let 256 KiB messages through. Use
--max-message-size 0 to keep aiortc's own value.

Options: --timeout SECONDS (default 30: the script exits by itself after that, status 2),
--max-message-size BYTES.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import re
import select
import signal
import sys

import aioice.ice
import aiortc
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp, candidate_to_sdp


def emit(message):
    """Writes one line whole. stdout may share its open file with stdin (a socketpair end), which
    asyncio makes non-blocking: a long line is written in pieces as the reader takes them."""
    data = memoryview((json.dumps(message, separators=(",", ":")) + "\n").encode())
    fd = sys.stdout.fileno()
    while data:
        try:
            data = data[os.write(fd, data):]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)


def log(text):
    sys.stderr.write(f"[aiortc_peer] {text}\n")
    sys.stderr.flush()


def candidate_text(text):
    """'candidate:...' or 'a=candidate:...' without the prefixes."""
    text = text.strip()
    if text.startswith("a="):
        text = text[2:]
    if text.startswith("candidate:"):
        text = text[len("candidate:"):]
    return text


def is_loopback_candidate(text):
    fields = candidate_text(text).split()
    if len(fields) < 6:
        return False
    try:
        address = ipaddress.ip_address(fields[4])
    except ValueError:  # an mDNS .local name, which would make aioice send multicast queries
        return False
    return address.version == 4 and address.is_loopback  # 127.0.0.0/8; aioice speaks IPv4 here


def loopback_only_sdp(sdp, where):
    kept = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:") and not is_loopback_candidate(line):
            log(f"dropped {where} candidate {line[2:]}")
            continue
        kept.append(line)
    return "\r\n".join(kept)


def without_empty_end_of_candidates(sdp):
    """A remote SDP that ends its candidates without giving any (a browser whose candidates
    were all dropped, and that relies on peer-reflexive ones) loses its a=end-of-candidates:
    aioice drops a component that has no remote candidate at end-of-candidates and would then
    gather no candidate of its own for it."""
    lines = sdp.split("\r\n")
    if any(line.startswith("a=candidate:") for line in lines):
        return sdp
    if "a=end-of-candidates" in lines:
        log("ignoring a=end-of-candidates of a remote SDP without candidates")
    return "\r\n".join(line for line in lines if line != "a=end-of-candidates")


class Peer:
    def __init__(self, args, lines):
        self.args = args
        self.lines = lines
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        # aiortc 1.4 offers the pre-RFC 8841 format (m=application PORT DTLS/SCTP 5000 with
        # a=sctpmap), in which Chromium ignores a=max-message-size and sends at most 64 KiB.
        # Offer what browsers offer (UDP/DTLS/SCTP webrtc-datachannel, a=sctp-port); as an
        # answerer aiortc follows the offer's format anyway.
        self.pc._sctpLegacySdp = False
        self.channels = {}
        self.last_state = None
        self.pc.on("datachannel", self.attach)
        self.pc.on("iceconnectionstatechange", self.state)
        self.pc.on("connectionstatechange", self.state)

    def dtls_state(self):
        sctp = self.pc.sctp
        return sctp.transport.state if sctp is not None else None

    def state(self):
        state = {
            "type": "state",
            "ice": self.pc.iceConnectionState,
            "connection": self.pc.connectionState,
            "dtls": self.dtls_state(),
        }
        if state != self.last_state:
            self.last_state = state
            emit(state)

    def attach(self, channel):
        label = channel.label
        self.channels[label] = channel

        def on_open():
            emit({"type": "channel_open", "label": label, "id": channel.id})

        def on_message(data):
            if isinstance(data, str):
                emit({"type": "message", "label": label, "data": data})
            else:
                emit({"type": "message", "label": label, "hex": data.hex()})

        channel.on("open", on_open)
        channel.on("message", on_message)
        channel.on("close", lambda: emit({"type": "channel_close", "label": label}))
        if channel.readyState == "open":
            on_open()

    def printable_sdp(self):
        sdp = loopback_only_sdp(self.pc.localDescription.sdp, "local")
        if self.args.max_message_size > 0:
            sdp = re.sub(
                r"a=max-message-size:\d+",
                f"a=max-message-size:{self.args.max_message_size}",
                sdp,
            )
        return sdp

    def emit_local_candidates(self, sdp):
        for line in sdp.split("\r\n"):
            if line.startswith("a=candidate:"):
                emit({"type": "candidate", "candidate": line[2:], "sdpMid": "0"})
        emit({"type": "end_of_candidates"})

    async def handle(self, m):
        kind = m.get("type")
        if kind == "create_offer":
            for c in m.get("channels", []):
                self.create_channel(c)
            await self.pc.setLocalDescription(await self.pc.createOffer())
            sdp = self.printable_sdp()
            emit({"type": "offer", "sdp": sdp})
            self.emit_local_candidates(sdp)
        elif kind == "offer":
            sdp = without_empty_end_of_candidates(loopback_only_sdp(m["sdp"], "remote"))
            offer = RTCSessionDescription(sdp, "offer")
            await self.pc.setRemoteDescription(offer)
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            sdp = self.printable_sdp()
            emit({"type": "answer", "sdp": sdp})
            self.emit_local_candidates(sdp)
        elif kind == "answer":
            sdp = without_empty_end_of_candidates(loopback_only_sdp(m["sdp"], "remote"))
            answer = RTCSessionDescription(sdp, "answer")
            await self.pc.setRemoteDescription(answer)
        elif kind == "candidate":
            text = m.get("candidate", "")
            if not is_loopback_candidate(text):
                raise ValueError(f"refusing non-loopback remote candidate {text}")
            candidate = candidate_from_sdp(candidate_text(text))
            candidate.sdpMid = m.get("sdpMid", "0")
            await self.pc.addIceCandidate(candidate)
        elif kind == "end_of_candidates":
            # aiortc 1.4 has no public end-of-candidates call; its ICE transport takes None.
            # Skipped while no remote candidate came (see without_empty_end_of_candidates).
            sctp = self.pc.sctp
            if sctp is None:
                raise ValueError("no remote description yet")
            ice = sctp.transport.transport
            if ice.getRemoteCandidates():
                await ice.addRemoteCandidate(None)
            else:
                log("ignoring end_of_candidates: no remote candidate was given")
        elif kind == "send":
            channel = self.channel(m.get("label"))
            if "hex" in m:
                channel.send(bytes.fromhex(m["hex"]))
            elif "data" in m:
                channel.send(m["data"])
            else:
                raise ValueError('send needs "data" (text) or "hex" (binary)')
        elif kind == "create_channel":
            self.create_channel(m["channel"])
        elif kind == "close_channel":
            self.channel(m.get("label")).close()
        elif kind == "get_stats":
            emit(await self.stats())
        else:
            raise ValueError(f"unknown message type {kind!r}")

    def create_channel(self, c):
        self.attach(
            self.pc.createDataChannel(
                c["label"],
                ordered=c.get("ordered", True),
                maxRetransmits=c.get("maxRetransmits"),
                maxPacketLifeTime=c.get("maxPacketLifeTime"),
                negotiated=c.get("negotiated", False),
                id=c.get("id"),
                protocol=c.get("protocol", ""),
            )
        )

    def channel(self, label):
        if label not in self.channels:
            raise ValueError(f"no channel labelled {label!r}")
        return self.channels[label]

    async def stats(self):
        out = {
            "type": "stats",
            "selected": None,
            "connection": self.pc.connectionState,
            "ice": self.pc.iceConnectionState,
            "dtls": self.dtls_state(),
        }
        sctp = self.pc.sctp
        if sctp is None:
            return out
        ice = sctp.transport.transport
        pair = ice._connection._nominated.get(1)  # aioice keeps the selected pair per component
        if pair is not None:
            def describe(c):
                return {
                    "address": c.host,
                    "port": c.port,
                    "protocol": c.transport.lower(),
                    "candidateType": c.type,
                }

            out["selected"] = {
                "local": describe(pair.local_candidate),
                "remote": describe(pair.remote_candidate),
                "state": "succeeded",
                "nominated": True,
            }
        report = await self.pc.getStats()
        for s in report.values():
            if s.type == "transport":
                out["transport"] = {
                    "bytesSent": s.bytesSent,
                    "bytesReceived": s.bytesReceived,
                    "dtlsState": s.dtlsState,
                }
        return out

    async def next_message(self):
        """The next JSON object from stdin, or None at EOF."""
        while True:
            line = await self.lines.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError as exc:
                emit({"type": "error", "error": f"not JSON: {exc}"})
                continue
            if not isinstance(message, dict):
                emit({"type": "error", "error": "not a JSON object"})
                continue
            return message

    async def run(self):
        emit({"type": "ready", "userAgent": f"aiortc/{aiortc.__version__}"})
        while True:
            message = await self.next_message()
            if message is None or message.get("type") == "close":
                return 0
            try:
                await self.handle(message)
            except Exception as exc:  # aiortc raises many kinds; report and keep going
                emit({"type": "error", "error": f"{message.get('type')}: {type(exc).__name__}: {exc}"})


async def stdin_lines():
    loop = asyncio.get_running_loop()
    # Large enough for a 256 KiB binary message as hex, with room to spare.
    reader = asyncio.StreamReader(limit=4 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main(args):
    peer = Peer(args, await stdin_lines())
    # SIGTERM ends the script like EOF would, closing the connection.
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGTERM, asyncio.current_task().cancel
    )
    try:
        return await asyncio.wait_for(peer.run(), timeout=args.timeout)
    except asyncio.TimeoutError:
        emit({"type": "error", "error": f"timeout after {args.timeout} s"})
        return 2
    except asyncio.CancelledError:
        log("SIGTERM")
        return 0
    finally:
        try:
            await asyncio.wait_for(peer.pc.close(), timeout=3)
        except asyncio.TimeoutError:
            log("close timed out")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--max-message-size", type=int, default=262144)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    # Loopback only: aioice gathers from every interface except 127.0.0.1; give it 127.0.0.1.
    # aiortc's RTCIceGatherer creates an aioice.ice.Connection whose gather_candidates() calls
    # this module-level function, so replacing it here covers every connection.
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    # A backstop beyond asyncio: whatever hangs, the process is gone a little after --timeout.
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.alarm(int(arguments.timeout) + 5)
    sys.exit(asyncio.run(main(arguments)))
