#!/usr/bin/env python3
"""A minimal sendjay WebSocket probe (Python standard library only), used by scripts/deploy-test.sh.

    python3 scripts/lib/ws_probe.py ws://127.0.0.1:7380/n/node-1/v1/ws TOKEN [--timeout 10]

Connects (through a load balancer or directly), sends one `ping` request (docs/protocol.md §4.1: the 13-byte
MessagePack map {"id": 1, "op": "ping"}) and prints what came back, as one line:

    reply                     the node answered the ping: the session was accepted
    close CODE REASON         the node closed the WebSocket (e.g. 4006 wrong_node)
    http STATUS               the upgrade was refused (e.g. 404 from the balancer, 503 from a draining node)
    error TEXT                anything else

Exit code 0 for every answer above (the caller checks the line), 2 for a usage error.
"""

import base64
import os
import socket
import struct
import sys
import urllib.parse

PING = bytes.fromhex("82a2696401a26f70a470696e67")  # {"id": 1, "op": "ping"}


def frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame."""
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def read_frame(sock: socket.socket):
    b0, b1 = read_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(sock, 8))[0]
    mask = read_exact(sock, 4) if b1 & 0x80 else None
    payload = read_exact(sock, n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return b0 & 0x0F, payload


def probe(url: str, token: str, timeout: float) -> str:
    u = urllib.parse.urlsplit(url)
    if u.scheme != "ws":
        return f"error only ws:// URLs are supported, not {url}"
    port = u.port or 80
    sock = socket.create_connection((u.hostname, port), timeout=timeout)
    sock.settimeout(timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Protocol: sendjay.v1, sendjay.token.{token}\r\n\r\n"
    )
    sock.sendall(request.encode())
    # Byte by byte, so that a frame sent right behind the 101 response (a close) is not swallowed here.
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            return "error connection closed during the upgrade"
        head += byte
    status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = status_line.split()
    if len(parts) < 2 or parts[1] != "101":
        return f"http {parts[1] if len(parts) > 1 else status_line}"
    sock.sendall(frame(0x2, PING))
    while True:
        try:
            opcode, payload = read_frame(sock)
        except (ConnectionError, socket.timeout) as e:
            return f"error {e}"
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            reason = payload[2:].decode(errors="replace")
            return f"close {code} {reason}"
        if opcode == 0x9:  # ping from the node: answer it
            sock.sendall(frame(0xA, payload))
            continue
        if opcode == 0x2 and b"reply" in payload:
            sock.sendall(frame(0x8, struct.pack("!H", 1000)))
            return "reply"


def main() -> int:
    args = sys.argv[1:]
    timeout = 10.0
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = float(args[i + 1])
        del args[i : i + 2]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        print(probe(args[0], args[1], timeout))
    except OSError as e:
        print(f"error {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
