"""Small network tools for the slirp end-to-end test (run inside namespaces).

udp-echo ADDR PORT               echo datagrams back with " from HOST" appended (exits after 60 s idle)
udp-ask ADDR PORT TEXT           send TEXT, print the answer (3 s timeout, 3 tries)
udp-probe ADDR PORT              send one datagram on a connected socket; print the error the kernel reports
udp-whoami PORT                  answer each datagram with the sender's address (IPv4 and IPv6)
tcp-whoami PORT                  answer each connection with the client's address, then close
tcp-ask ADDR PORT                connect, print what the server says
tcp-roundtrip ADDR PORT SIZE     send SIZE bytes of a pattern, half-close, print the SHA-256 of what comes back
http-serve ADDR PORT FILE        GET /blob serves FILE; PUT /upload answers the body's SHA-256
http-put URL SIZE SEED           PUT SIZE bytes of the seeded pattern, print the answer
pattern-sha SIZE SEED            print the SHA-256 of the pattern
tcp-sink ADDR PORT               accept connections and read them to the end, one at a time
tcp-window ADDR PORT SIZE        send SIZE bytes; print the largest window the peer offered in the second half
dhcp-flood IFACE COUNT FIRST LAST  from COUNT made-up MACs 02:66:..., a DISCOVER and a REQUEST each, asking
                                 for FIRST..LAST in turn; 2 ms apart (raw frames: root)
tcp-hold PORT GOFILE COUNTFILE N accept connections (their count in COUNTFILE) and read none until GOFILE
                                 exists, then read each to its end (and any still to come, until N have
                                 ended); print "BYTES SHA256" per connection, sorted
tcp-flood ADDR PORT N SECONDS COUNTFILE
                                 open N connections, 64 at a time once COUNTFILE says the last were accepted
                                 (a slirp's half-open flows stay few), each write its own pattern as fast as it
                                 is let for SECONDS, then half-close; print "BYTES SHA256" of what each wrote
"""
import hashlib, http.server, os, select, selectors, socket, socketserver, struct, sys, threading, time, urllib.request

def pattern(size, seed):
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    full, rest = divmod(size, len(block))
    for _ in range(full):
        yield block
    if rest:
        yield block[:rest]

def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET

def ip_checksum(b):
    total = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF

def dhcp_frame(mac, msg_type, want, xid):
    options = bytes([53, 1, msg_type, 50, 4]) + socket.inet_aton(want) + bytes([255])
    bootp = struct.pack("!BBBBIHHIIII", 1, 1, 6, 0, xid, 0, 0x8000, 0, 0, 0, 0) + mac + bytes(10 + 64 + 128)
    bootp += b"\x63\x82\x53\x63" + options
    udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), xid & 0xFFFF, 0, 64, 17, 0, bytes(4), b"\xff" * 4))
    ip[10:12] = struct.pack("!H", ip_checksum(bytes(ip)))
    return b"\xff" * 6 + mac + b"\x08\x00" + bytes(ip) + udp

cmd = sys.argv[1]
if cmd == "dhcp-flood":
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((sys.argv[2], 0))
    count = int(sys.argv[3])
    first, last = (struct.unpack("!I", socket.inet_aton(a))[0] for a in sys.argv[4:6])
    for i in range(count):
        mac = bytes([2, 0x66, 0, 0, i >> 8 & 0xFF, i & 0xFF])
        want = socket.inet_ntoa(struct.pack("!I", first + i % (last - first + 1)))
        s.send(dhcp_frame(mac, 1, want, 0x6600000 + i))
        s.send(dhcp_frame(mac, 3, want, 0x6600000 + i))
        time.sleep(0.002)
    print("sent", 2 * count)
elif cmd == "udp-echo":
    s = socket.socket(fam(sys.argv[2]), socket.SOCK_DGRAM)
    s.bind((sys.argv[2], int(sys.argv[3])))
    s.settimeout(60)
    while True:
        try:
            d, a = s.recvfrom(65535)
        except socket.timeout:
            break
        s.sendto(d + (" from %s" % a[0]).encode(), a)
elif cmd == "udp-ask":
    s = socket.socket(fam(sys.argv[2]), socket.SOCK_DGRAM)
    s.settimeout(3)
    for _ in range(3):
        s.sendto(sys.argv[4].encode(), (sys.argv[2], int(sys.argv[3])))
        try:
            print(s.recvfrom(65535)[0].decode())
            break
        except socket.timeout:
            pass
    else:
        sys.exit(1)
elif cmd == "udp-probe":
    # A connected UDP socket is told of ICMP errors: port unreachable is ECONNREFUSED.
    s = socket.socket(fam(sys.argv[2]), socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((sys.argv[2], int(sys.argv[3])))
    s.send(b"hello")
    try:
        s.recv(65535)
        print("answered")
    except socket.timeout:
        print("timeout")
    except OSError as e:
        print("error %s" % (e.strerror,))
elif cmd == "udp-whoami":
    socks = []
    for f, a in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(f, socket.SOCK_DGRAM)
        if f == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((a, int(sys.argv[2])))
        socks.append(s)
    def serve(s):
        while True:
            d, a = s.recvfrom(65535)
            s.sendto(("you are %s" % a[0]).encode(), a)
    for s in socks[1:]:
        threading.Thread(target=serve, args=(s,), daemon=True).start()
    serve(socks[0])
elif cmd == "tcp-whoami":
    class H(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.sendall(("you are %s\n" % self.client_address[0]).encode())
    socketserver.TCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer(("0.0.0.0", int(sys.argv[2])), H).serve_forever()
elif cmd == "tcp-ask":
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5)
    print(c.recv(200).decode().strip())
elif cmd == "tcp-roundtrip":
    s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
    size = int(sys.argv[4])
    got = hashlib.sha256()
    def send():
        for block in pattern(size, "roundtrip"):
            s.sendall(block)
        s.shutdown(socket.SHUT_WR)
    sender = threading.Thread(target=send)
    sender.start()
    while True:
        d = s.recv(65536)
        if not d:
            break
        got.update(d)
    sender.join()
    print(got.hexdigest())
elif cmd == "http-serve":
    path = sys.argv[4]
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass
        def do_GET(self):
            with open(path, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def do_PUT(self):
            n = int(self.headers["Content-Length"])
            h = hashlib.sha256()
            while n > 0:
                chunk = self.rfile.read(min(n, 1 << 16))
                if not chunk:
                    break
                h.update(chunk)
                n -= len(chunk)
            body = h.hexdigest().encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    http.server.ThreadingHTTPServer((sys.argv[2], int(sys.argv[3])), H).serve_forever()
elif cmd == "http-put":
    size, seed = int(sys.argv[3]), sys.argv[4]
    req = urllib.request.Request(sys.argv[2], data=pattern(size, seed), method="PUT")
    req.add_header("Content-Length", str(size))
    print(urllib.request.urlopen(req, timeout=60).read().decode())
elif cmd == "tcp-sink":
    srv = socket.socket(fam(sys.argv[2]), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((sys.argv[2], int(sys.argv[3])))
    srv.listen(4)
    while True:
        c, _ = srv.accept()
        while c.recv(1 << 16):
            pass
        c.close()
elif cmd == "tcp-window":
    # tcpi_snd_wnd (Linux 5.4+): the window the peer advertised last, scaled, at offset 228 of TCP_INFO.
    s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
    size, sent, largest = int(sys.argv[4]), 0, 0
    for block in pattern(size, "window"):
        s.sendall(block)
        sent += len(block)
        if 2 * sent > size:
            info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
            largest = max(largest, int.from_bytes(info[228:232], "little"))
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    print(largest)
elif cmd == "tcp-hold":
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", int(sys.argv[2])))
    srv.listen(4096)
    srv.setblocking(False)
    held = []
    while not os.path.exists(sys.argv[3]):
        select.select([srv], [], [], 0.05)
        try:
            while True:
                held.append(srv.accept()[0])
        except BlockingIOError:
            pass
        with open(sys.argv[4] + ".new", "w") as f:
            f.write(str(len(held)))
        os.replace(sys.argv[4] + ".new", sys.argv[4])
    sums = {}
    sel = selectors.DefaultSelector()  # epoll: more than select's 1,024 descriptors

    def hold(c):
        c.setblocking(False)
        sums[c] = [0, hashlib.sha256()]
        sel.register(c, selectors.EVENT_READ)

    for c in held:
        hold(c)
    # A client whose handshake the guest saw late (its SYN resent) is still taken.
    sel.register(srv, selectors.EVENT_READ)
    ended = 0
    while ended < int(sys.argv[5]):
        ready = sel.select(10)
        if not ready:
            # Stalled: say which connections are still open and how far each got.
            left = sorted(sums[k.fileobj][0] for k in sel.get_map().values() if k.fileobj is not srv)
            print(f"{len(left)} connections still open, {ended} ended, bytes read: {left[:20]}", file=sys.stderr,
                  flush=True)
        for key, _ in ready:
            c = key.fileobj
            if c is srv:
                try:
                    hold(srv.accept()[0])
                except BlockingIOError:
                    pass
                continue
            b = c.recv(1 << 16)
            if not b:
                sel.unregister(c)
                c.close()
                ended += 1
                continue
            sums[c][0] += len(b)
            sums[c][1].update(b)
    print("\n".join(sorted(f"{n} {h.hexdigest()}" for n, h in sums.values())), flush=True)
elif cmd == "tcp-flood":
    n, seconds = int(sys.argv[4]), float(sys.argv[5])
    conns = []
    sel = selectors.DefaultSelector()
    def accepted():
        try:
            with open(sys.argv[6]) as f:
                return int(f.read() or 0)
        except FileNotFoundError:
            return 0
    for i in range(n):
        if i % 64 == 0:
            deadline = time.monotonic() + 30
            while accepted() < i and time.monotonic() < deadline:
                time.sleep(0.01)
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        c.connect((sys.argv[2], int(sys.argv[3])))
        c.setblocking(False)
        block = hashlib.sha256(str(i).encode()).digest() * 2048  # 64 KiB, one pattern per client
        conns.append([c, block, 0, hashlib.sha256()])
        sel.register(c, selectors.EVENT_WRITE, conns[-1])
    print("connected", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(0.05):
            st = key.data
            off = st[2] % len(st[1])
            try:
                k = st[0].send(st[1][off:])
            except BlockingIOError:
                continue
            st[3].update(st[1][off:off + k])
            st[2] += k
    for c in conns:
        c[0].shutdown(socket.SHUT_WR)
    print("\n".join(sorted(f"{c[2]} {c[3].hexdigest()}" for c in conns)), flush=True)
    for c in conns:
        c[0].setblocking(True)
        c[0].recv(1)
elif cmd == "pattern-sha":
    h = hashlib.sha256()
    for b in pattern(int(sys.argv[2]), sys.argv[3]):
        h.update(b)
    print(h.hexdigest())
