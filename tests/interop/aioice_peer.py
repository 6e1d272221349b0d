#!/usr/bin/python3
"""One aioice ICE agent on loopback, driven over stdin/stdout with one JSON object per line.

Run with Debian's /usr/bin/python3 (python3-aiortc brings aioice). Protocol:

  out {"type":"local","ufrag":U,"pwd":P,"candidates":["candidate:...", ...]}   after gathering
  in  {"type":"remote","ufrag":U,"pwd":P,"candidates":["candidate:...", ...]}  all of them at
      once; end-of-candidates is implied. "a=" prefixes and line endings are accepted.
  out {"type":"connected","selected":{"local":"candidate:...","remote":"candidate:..."}}
   or {"type":"failed","error":"..."}                                          then exit 1
  in  {"type":"send","data":HEX}      sends one datagram on the selected pair
  out {"type":"recv","data":HEX}      for every datagram received (also echoed back with --echo)
  in  {"type":"close"} or EOF         closes the connection and exits 0
  out {"type":"error","error":"..."}  for a line it cannot act on (it keeps going)

Options: --controlling | --controlled (required), --timeout SECONDS (default 20: the script
exits by itself after that, whatever happens), --echo, --stun-server 127.0.0.1:PORT,
--turn-server 127.0.0.1:PORT --turn-username U --turn-password P.

It keeps to loopback: aioice's host addresses are replaced by 127.0.0.1 alone (aioice leaves
127.0.0.1 out of them), no STUN or TURN server is used unless one on 127.0.0.1 is given, and a
remote candidate that is not a loopback IP (an mDNS .local name would make aioice send
multicast queries) is refused.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import signal
import sys

import aioice
import aioice.ice
from aioice import Candidate, Connection


def emit(message):
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def loopback_hostport(text, option):
    host, _, port = text.rpartition(":")
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"{option} must be a loopback address, got {text}")
    return (host, int(port))


def candidate_sdp(candidate):
    return "candidate:" + candidate.to_sdp()


def parse_remote_candidate(text):
    text = text.strip()
    if text.startswith("a="):
        text = text[2:]
    if text.startswith("candidate:"):
        text = text[len("candidate:"):]
    candidate = Candidate.from_sdp(text)
    try:
        is_loopback = ipaddress.ip_address(candidate.host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise ValueError(f"refusing non-loopback remote candidate {candidate.host}")
    return candidate


class Peer:
    def __init__(self, args, lines):
        self.args = args
        self.lines = lines
        self.connected = False
        self.connection = Connection(
            ice_controlling=args.controlling,
            components=1,
            stun_server=args.stun_server,
            turn_server=args.turn_server,
            turn_username=args.turn_username,
            turn_password=args.turn_password,
            use_ipv4=True,
            use_ipv6=False,
        )

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
        conn = self.connection
        await conn.gather_candidates()
        emit(
            {
                "type": "local",
                "ufrag": conn.local_username,
                "pwd": conn.local_password,
                "candidates": [candidate_sdp(c) for c in conn.local_candidates],
            }
        )

        while True:
            message = await self.next_message()
            if message is None or message.get("type") == "close":
                return 0
            if message.get("type") == "remote":
                break
            emit({"type": "error", "error": f"expected remote, got {message.get('type')}"})

        try:
            conn.remote_username = message["ufrag"]
            conn.remote_password = message["pwd"]
            for text in message.get("candidates", []):
                await conn.add_remote_candidate(parse_remote_candidate(text))
            await conn.add_remote_candidate(None)
            await conn.connect()
        except Exception as exc:  # aioice raises ConnectionError, parsing ValueError/KeyError
            emit({"type": "failed", "error": f"{type(exc).__name__}: {exc}"})
            return 1

        self.connected = True
        pair = conn._nominated.get(1)  # aioice keeps the selected pair per component here
        emit(
            {
                "type": "connected",
                "selected": {
                    "local": candidate_sdp(pair.local_candidate) if pair else "",
                    "remote": candidate_sdp(pair.remote_candidate) if pair else "",
                },
            }
        )

        receiver = asyncio.ensure_future(self.receive())
        try:
            while True:
                message = await self.next_message()
                if message is None or message.get("type") == "close":
                    return 0
                if message.get("type") == "send":
                    try:
                        await conn.send(bytes.fromhex(message.get("data", "")))
                    except (ValueError, ConnectionError) as exc:
                        emit({"type": "error", "error": f"send: {exc}"})
                else:
                    emit({"type": "error", "error": f"unexpected {message.get('type')}"})
        finally:
            receiver.cancel()

    async def receive(self):
        conn = self.connection
        while True:
            try:
                data = await conn.recv()
            except ConnectionError as exc:
                emit({"type": "error", "error": f"recv: {exc}"})
                return
            emit({"type": "recv", "data": data.hex()})
            if self.args.echo:
                await conn.send(data)


async def stdin_lines():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main(args):
    peer = Peer(args, await stdin_lines())
    try:
        return await asyncio.wait_for(peer.run(), timeout=args.timeout)
    except asyncio.TimeoutError:
        what = "error" if peer.connected else "failed"
        emit({"type": what, "error": f"timeout after {args.timeout} s"})
        return 2
    finally:
        await peer.connection.close()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    role = parser.add_mutually_exclusive_group(required=True)
    role.add_argument("--controlling", action="store_true")
    role.add_argument("--controlled", action="store_true")
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--echo", action="store_true")
    parser.add_argument("--stun-server")
    parser.add_argument("--turn-server")
    parser.add_argument("--turn-username")
    parser.add_argument("--turn-password")
    args = parser.parse_args()
    if args.stun_server:
        args.stun_server = loopback_hostport(args.stun_server, "--stun-server")
    if args.turn_server:
        args.turn_server = loopback_hostport(args.turn_server, "--turn-server")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    # Loopback only: aioice gathers from every interface except 127.0.0.1; give it 127.0.0.1.
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    # A backstop beyond asyncio: whatever hangs, the process is gone a little after --timeout.
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.alarm(int(arguments.timeout) + 5)
    sys.exit(asyncio.run(main(arguments)))
