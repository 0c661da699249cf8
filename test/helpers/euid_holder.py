"""Holds silent connections made as several uids at once, as root, and says which the server kept.

usage: euid_holder.py unix:PATH|tcp:PORT SECONDS UIDxN...

For each UIDxN, sets the effective uid to UID and opens N connections (to the unix stream socket PATH, or
to 127.0.0.1:PORT): the kernel takes the euid as the connection's peer credentials (SO_PEERCRED) and as a
TCP socket's owner (/proc/net/tcp). All are opened within milliseconds; after SECONDS (less than the
server's deadline for a silent client) prints a line per connection, in order: `UID held` while it is
open with nothing to read, else `UID refused TEXT`, TEXT what the server wrote before closing (may be "").
"""
import os
import socket
import sys
import time

target, seconds = sys.argv[1], float(sys.argv[2])
kind, _, where = target.partition(":")
socks = []
for arg in sys.argv[3:]:
    uid, n = (int(x) for x in arg.split("x"))
    os.seteuid(uid)
    try:
        for _ in range(n):
            if kind == "unix":
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(where)
            else:
                s = socket.create_connection(("127.0.0.1", int(where)))
            socks.append((uid, s))
    finally:
        os.seteuid(0)
time.sleep(seconds)
for uid, s in socks:
    s.setblocking(False)
    try:
        got = s.recv(200)
    except BlockingIOError:
        got = None
    except OSError:
        got = b""
    print(uid, "held" if got is None else "refused " + got.decode("ascii", "replace"), flush=True)
