"""Hands one end of a SOCK_SEQPACKET socketpair to a plug as seqpacket://FD, the far end being a
ptp:// served by Debian's vde_plug on stdio; says whether a frame crosses each way and how soon the
plug ends once the pair's other end closes. Usage: seqpacket_peer.py DIR PLUG-COMMAND..."""
import os
import select
import socket
import subprocess
import sys
import time

tmp, cmd = sys.argv[1], sys.argv[2:]
ptp_path = tmp + "/p"
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ptp = subprocess.Popen(["vde_plug", "ptp://" + ptp_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
deadline = time.time() + 10
while time.time() < deadline:
    try:
        os.stat(ptp_path)
        break
    except FileNotFoundError:
        time.sleep(0.05)
plug = subprocess.Popen(cmd + ["seqpacket://%d" % b.fileno(), "ptp://" + ptp_path], pass_fds=(b.fileno(),))
b.close()
frame = bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0]) + bytes(range(46))
try:
    # The plug's ptp end joins when it is up: resend until a frame comes out of the ptp side.
    a.settimeout(0.2)
    got = b""
    ptp_out = ptp.stdout
    for _ in range(100):
        a.send(frame)
        if select.select([ptp_out], [], [], 0.2)[0]:
            hdr = ptp_out.read(2)
            got = ptp_out.read(hdr[0] * 256 + hdr[1])
            break
    print("to ptp:", got == frame)
    ptp.stdin.write(bytes([0, len(frame)]) + frame)
    ptp.stdin.flush()
    back = b""
    for _ in range(20):
        try:
            back = a.recv(2000)
            if back == frame:
                break
        except socket.timeout:
            pass
    print("from ptp:", back == frame)
    a.close()
    start = time.time()
    try:
        plug.wait(5)
        print("ended:", plug.returncode, "in %.1f s" % (time.time() - start))
    except subprocess.TimeoutExpired:
        print("ended: no")
finally:
    for p in (plug, ptp):
        if p.poll() is None:
            p.kill()
            p.wait()
