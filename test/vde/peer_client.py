"""A VDE client for the peer-credential tests, run as an unprivileged user.

usage: peer_client.py CTL name SOCKET PORT   send a request naming SOCKET (not ours) for PORT
       peer_client.py CTL own SOCKET PORT    bind SOCKET, request PORT, then exchange test frames

Prints "reply PATH" when the switch answers, "refused" when it closes the
control connection instead. With "own", after the reply it sends a
broadcast test frame tagged 402 and prints "frame TAG" for each test frame
it receives until the one tagged 401 (the tests send it), for 5 s at most.
"""
import socket
import struct
import sys
import time

ctl_path, mode, sock_path, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

data = None
if mode == "own":
    data = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    data.bind(sock_path)

ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ctl.connect(ctl_path)
addr = struct.pack("<H108s", socket.AF_UNIX, sock_path.encode())
ctl.sendall(struct.pack("<III", 0xFEEDFACE, 3, port << 8) + addr + b"peer test client\0")
ctl.settimeout(5)
reply = b""
try:
    while len(reply) < 110:
        chunk = ctl.recv(110 - len(reply))
        if not chunk:
            break
        reply += chunk
except OSError:
    pass
if len(reply) < 110:
    print("refused", flush=True)
    sys.exit(0)
port_path = reply[2:].split(b"\0", 1)[0].decode()
print("reply " + port_path, flush=True)
if data is None:
    sys.exit(0)

data.connect(port_path)
frame = b"\xff" * 6 + bytes([2, 0, 0, 0, 0x0E, 1]) + b"\x88\xb5" + struct.pack(">I", 402) + bytes(46)
data.send(frame)
data.settimeout(0.2)
deadline = time.time() + 5
while time.time() < deadline:
    try:
        f = data.recv(2048)
    except socket.timeout:
        continue
    if len(f) >= 18 and f[12:14] == b"\x88\xb5":
        tag = struct.unpack(">I", f[14:18])[0]
        print("frame %d" % tag, flush=True)
        if tag == 401:
            break
ctl.close()
