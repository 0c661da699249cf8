"""Holds COUNT connections to a switch's ctl that never speak, for SECONDS, as a hostile user would.

usage: ctl_holder.py CTL COUNT SECONDS DELAY_MS

Each connection the switch closes is opened again DELAY_MS later, so the
switch always has as many of this user's handshakes as it will take; with
0, at once, which keeps the ctl's listen backlog full too. Prints
"holding" once every connection has been opened, then at the end
"refusal TEXT" for each distinct reason the switch wrote before a close.
"""
import selectors
import socket
import sys
import time

ctl_path, count, seconds, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]) / 1000
sel = selectors.DefaultSelector()
reasons = set()


def opened():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(ctl_path)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)


for _ in range(count):
    opened()
print("holding", flush=True)
end = time.time() + seconds
closed = []
while time.time() < end:
    now = time.time()
    while closed and closed[0] <= now - delay:
        closed.pop(0)
        opened()
    for key, _ in sel.select(timeout=0.01):
        s = key.fileobj
        try:
            got = s.recv(200)
        except OSError:
            got = b""
        if got:
            reasons.add(got.decode("ascii", "replace"))
        sel.unregister(s)
        s.close()
        closed.append(time.time())
for r in sorted(reasons):
    print("refusal " + r, flush=True)
print("done", flush=True)
