/*
 * Load generator for scripts/bench.ts: a libvdeplug client (Debian's
 * libvdeplug.so.2), so both switches are measured with the same C clients.
 *
 *   loadgen source VNL SIZE SECONDS   send SIZE-byte frames to the sink's MAC as fast as
 *                                     the switch takes them, BATCH a sendmmsg; prints "source frames=.. bytes=.."
 *                                     (source and sink also print cpu=: their own CPU seconds, and
 *                                     calls=: their system calls while moving frames)
 *   loadgen sink VNL SECONDS          announce the sink's MAC with one broadcast, print "ready",
 *                                     count frames until SECONDS pass or traffic stops for 0.5 s;
 *                                     prints "sink frames=.. bytes=.. seconds=.." (first to last frame)
 *   ... mcast                         (after either) the source sends UDP to 239.1.1.1 instead; the
 *                                     sink first sends an IGMP general query (a querier is present
 *                                     for a snooping switch) and a report joining 239.1.1.1
 *   loadgen hold VNL N SECONDS        open N connections, print "hold opened=N", keep them SECONDS
 *   loadgen floor DIR BATCH SECONDS   not a client: the floor of the throughput rows, a two-port
 *                                     "switch" on DIR with no switching in it (see run_floor)
 *
 * Every mode is bounded by an interval timer, which also interrupts a blocking
 * send or a handshake that never gets an answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* -DLOADGEN_OWN_PROTOTYPES checks the fallback below even where the header exists. */
#if defined(__has_include) && !defined(LOADGEN_OWN_PROTOTYPES)
#if __has_include(<libvdeplug.h>)
#define HAVE_LIBVDEPLUG_H 1
#endif
#endif

#ifdef HAVE_LIBVDEPLUG_H
#include <libvdeplug.h>
#else
/* libvdeplug-dev is absent: declare the part of the ABI we use. */
typedef struct vdeconn VDECONN;
VDECONN *vde_open_real(char *vde_url, char *descr, int interface_version, void *open_args);
ssize_t vde_recv(VDECONN *conn, void *buf, size_t len, int flags);
ssize_t vde_send(VDECONN *conn, const void *buf, size_t len, int flags);
int vde_datafd(VDECONN *conn);
int vde_close(VDECONN *conn);
#define vde_open(url, descr, args) vde_open_real((url), (descr), 1, (args))
#endif

/* Locally administered MACs, so the frames can never be mistaken for real hosts. */
static const unsigned char SOURCE_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const unsigned char SINK_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
/* IEEE local experimental ethertype: no host stack will react to it. */
#define ETHERTYPE_HI 0x88
#define ETHERTYPE_LO 0xb5
#define MAXFRAME 9234
#define BATCH 64

static volatile sig_atomic_t stop_now = 0;

static void on_alarm(int sig) {
  (void)sig;
  stop_now = 1;
}

/* Sets a one-shot timer; no SA_RESTART, so blocking calls return EINTR when it fires. */
static void arm_timer(double seconds) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it;
  memset(&it, 0, sizeof it);
  it.it_value.tv_sec = (time_t)seconds;
  it.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);
  if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
  setitimer(ITIMER_REAL, &it, NULL);
}

/* This process's CPU time (user and system): the bench shows from it whether the clients were saturated. */
static double cpu_seconds(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void frame_header(unsigned char *buf, const unsigned char *dst, const unsigned char *src) {
  memcpy(buf, dst, 6);
  memcpy(buf + 6, src, 6);
  buf[12] = ETHERTYPE_HI;
  buf[13] = ETHERTYPE_LO;
}

/* The Internet checksum of n bytes, ones' complement as IPv4 and IGMP want it. */
static unsigned short inet_sum(const unsigned char *b, int n) {
  unsigned long s = 0;
  for (int i = 0; i + 1 < n; i += 2) s += (unsigned long)(b[i] << 8 | b[i + 1]);
  if (n & 1) s += (unsigned long)(b[n - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (unsigned short)~s;
}

/* An IPv4 header at b (20 bytes, checksummed) from src to dst of protocol proto and total length len. */
static void ipv4_header(unsigned char *b, int len, int proto, unsigned int src, unsigned int dst) {
  memset(b, 0, 20);
  b[0] = 0x45;
  b[2] = (unsigned char)(len >> 8);
  b[3] = (unsigned char)len;
  b[8] = 1;
  b[9] = (unsigned char)proto;
  for (int i = 0; i < 4; i++) {
    b[12 + i] = (unsigned char)(src >> (24 - 8 * i));
    b[16 + i] = (unsigned char)(dst >> (24 - 8 * i));
  }
  unsigned short c = inet_sum(b, 20);
  b[10] = (unsigned char)(c >> 8);
  b[11] = (unsigned char)c;
}

#define MCAST_GROUP 0xef010101u /* 239.1.1.1 */
static const unsigned char GROUP_MAC[6] = {0x01, 0x00, 0x5e, 0x01, 0x01, 0x01};

/* An IGMPv2 message (type, group) to dst as a 60-byte frame from the sink. */
static void igmp_frame(unsigned char *f, int type, unsigned int group, unsigned int dst) {
  unsigned char mac[6] = {0x01, 0x00, 0x5e, (unsigned char)((dst >> 16) & 0x7f), (unsigned char)(dst >> 8), (unsigned char)dst};
  memset(f, 0, 60);
  memcpy(f, mac, 6);
  memcpy(f + 6, SINK_MAC, 6);
  f[12] = 0x08;
  ipv4_header(f + 14, 28, 2, 0, dst);
  unsigned char *m = f + 34;
  m[0] = (unsigned char)type;
  m[1] = type == 0x11 ? 100 : 0;
  for (int i = 0; i < 4; i++) m[4 + i] = (unsigned char)(group >> (24 - 8 * i));
  unsigned short c = inet_sum(m, 8);
  m[2] = (unsigned char)(c >> 8);
  m[3] = (unsigned char)c;
}

static VDECONN *open_or_die(char *vnl, char *descr) {
  VDECONN *conn = vde_open(vnl, descr, NULL);
  if (conn == NULL) {
    fprintf(stderr, "loadgen: cannot open %s: %s\n", vnl, strerror(errno));
    exit(1);
  }
  return conn;
}

static int run_source(char *vnl, int size, double seconds, int mcast) {
  if (size < 14 || size > MAXFRAME) {
    fprintf(stderr, "loadgen: frame size must be 14..%d\n", MAXFRAME);
    return 2;
  }
  /* Checked before joining the switch, as the size above: a bad argument never takes a port. */
  if (mcast && size < 42) {
    fprintf(stderr, "loadgen: a multicast frame is at least 42 bytes (Ethernet, IPv4, UDP)\n");
    return 2;
  }
  VDECONN *conn = open_or_die(vnl, "loadgen source");
  unsigned char buf[MAXFRAME];
  memset(buf, 0x5a, sizeof buf);
  frame_header(buf, SINK_MAC, SOURCE_MAC);
  if (mcast) {
    /* UDP from 10.0.0.1 to 239.1.1.1, checksum 0 (none): a snooping switch looks its group up. */
    memcpy(buf, GROUP_MAC, 6);
    buf[12] = 0x08;
    buf[13] = 0x00;
    ipv4_header(buf + 14, size - 14, 17, 0x0a000001u, MCAST_GROUP);
    unsigned char *u = buf + 34;
    u[0] = 0x13, u[1] = 0x88, u[2] = 0x13, u[3] = 0x88;
    u[4] = (unsigned char)((size - 34) >> 8), u[5] = (unsigned char)(size - 34), u[6] = u[7] = 0;
  }
  /*
   * BATCH frames a sendmmsg on libvdeplug's data fd: after vde_open's handshake it is a blocking datagram
   * socket connected to the switch's port socket, and vde_send is one send on it, so the switch sees the
   * same datagrams as from vde_send, at a fraction of the source's system calls per frame (one send a
   * frame had this source as busy as the switch it measured). Blocking, as vde_send is: a full switch
   * queue holds the call until there is room, pacing us instead of dropping here; the timer's signal
   * ends a held call with the frames sent so far.
   */
  int fd = vde_datafd(conn);
  struct iovec iov = {.iov_base = buf, .iov_len = (size_t)size};
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long frames = 0, errors = 0, calls = 0;
  double start = now();
  arm_timer(seconds);
  while (!stop_now) {
    int n = sendmmsg(fd, msgs, BATCH, 0);
    calls++;
    if (n > 0) {
      frames += (unsigned long long)n;
    } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
      if (++errors > 1000) break;
    }
  }
  double elapsed = now() - start;
  printf("source frames=%llu bytes=%llu seconds=%.6f errors=%llu cpu=%.3f calls=%llu\n", frames,
         frames * (unsigned long long)size, elapsed, errors, cpu_seconds(), calls);
  fflush(stdout);
  vde_close(conn);
  return 0;
}

static int run_sink(char *vnl, double seconds, int mcast) {
  VDECONN *conn = open_or_die(vnl, "loadgen sink");
  int fd = vde_datafd(conn);
  unsigned char hello[64];
  static const unsigned char BROADCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  memset(hello, 0, sizeof hello);
  frame_header(hello, BROADCAST, SINK_MAC);
  if (vde_send(conn, hello, sizeof hello, 0) != (ssize_t)sizeof hello) {
    fprintf(stderr, "loadgen: announce failed: %s\n", strerror(errno));
    return 1;
  }
  if (mcast) {
    /* A querier's general query, then a member's report: a snooping switch then sends the group here alone. */
    unsigned char query[60], report[60];
    igmp_frame(query, 0x11, 0, 0xe0000001u);
    igmp_frame(report, 0x16, MCAST_GROUP, MCAST_GROUP);
    if (vde_send(conn, query, sizeof query, 0) != (ssize_t)sizeof query ||
        vde_send(conn, report, sizeof report, 0) != (ssize_t)sizeof report) {
      fprintf(stderr, "loadgen: join failed: %s\n", strerror(errno));
      return 1;
    }
  }
  printf("ready\n");
  fflush(stdout);

  /* Drain in batches straight from the data fd, so the sink costs as little a frame as it can. */
  static unsigned char bufs[BATCH][MAXFRAME];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = MAXFRAME;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long frames = 0, bytes = 0, calls = 0;
  double first = 0, last = 0;
  arm_timer(seconds);
  /*
   * One call a wake-up: recvmmsg blocks for the first frame (MSG_WAITFORONE) and takes what else is queued
   * without waiting; a poll before it doubled the calls where a switch sends one frame at a time. The
   * receive timeout wakes us to notice the end of traffic.
   */
  struct timeval idle = {.tv_sec = 0, .tv_usec = 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
  while (!stop_now) {
    int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
    calls++;
    if (n <= 0) {
      if (frames > 0 && now() - last > 0.5) break; /* the source has finished */
      continue;
    }
    double t = now();
    for (int i = 0; i < n; i++) {
      /* Count only the source's frames, not stray broadcasts. */
      if (msgs[i].msg_len >= 12 && memcmp(bufs[i] + 6, SOURCE_MAC, 6) == 0) {
        if (frames == 0) first = t;
        frames++;
        bytes += msgs[i].msg_len;
        last = t;
      }
    }
  }
  printf("sink frames=%llu bytes=%llu seconds=%.6f cpu=%.3f calls=%llu\n", frames, bytes,
         frames > 1 ? last - first : 0.0, cpu_seconds(), calls);
  fflush(stdout);
  vde_close(conn);
  return 0;
}

static int run_hold(char *vnl, int count, double seconds) {
  /* Each connection costs two fds; take whatever the hard limit allows. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  VDECONN **conns = calloc((size_t)count, sizeof *conns);
  if (conns == NULL) return 1;
  /* Debian's vde_switch never answers when it has no free port: the timer bounds that too. */
  arm_timer(seconds);
  int opened = 0;
  while (opened < count && !stop_now) {
    conns[opened] = vde_open(vnl, "loadgen hold", NULL);
    if (conns[opened] == NULL) {
      fprintf(stderr, "loadgen: connection %d failed: %s\n", opened + 1, strerror(errno));
      break;
    }
    opened++;
  }
  printf("hold opened=%d\n", opened);
  fflush(stdout);
  while (!stop_now) pause();
  for (int i = 0; i < opened; i++) vde_close(conns[i]);
  free(conns);
  return opened == count ? 0 : 1;
}

/*
 * The floor for the bench's throughput rows: a two-port "switch" with no
 * switching in it, so the bench can show what any switch built on
 * recvmmsg/sendmmsg over AF_UNIX datagram sockets pays per frame in the
 * kernel alone, in the throughput rows' own position (this program's sink
 * and source as its clients). It serves DIR/ctl, takes two vde:// clients
 * (the sink, then the source), prints "ready", then moves every datagram
 * from one port to the other until SIGTERM or SECONDS pass.
 *
 * The handshake is a vde_switch's (a v3 request on DIR/ctl, a datagram
 * socket per port connected to the client's and bound to DIR/NNN.FD, the
 * 110-byte sockaddr_un as the reply), with the 1 MiB socket buffers `vde
 * switch` asks for. Forwarding is what our switch thread does minus
 * everything that is not a system call: block in poll, drain a ready port
 * with recvmmsg (BATCH frames a call, into one arena), send each batch to the
 * other port with one sendmmsg straight from that arena, drop what does not
 * fit. No learning, no counters, no copies: its CPU per frame is the kernel's
 * share of forwarding, which no switch on these calls goes below.
 */
#define FLOOR_MAX_BATCH 1024
#define FLOOR_SLOT 1600
#define FLOOR_REQUEST_MIN 122
#define FLOOR_SOCKADDR_LEN 110
#define FLOOR_BUFFER_BYTES (1 << 20)

static unsigned char floor_arena[FLOOR_MAX_BATCH][FLOOR_SLOT];

/* Takes one client on the ctl socket: its data socket, or -1. */
/*
 * A buffer asked for as our switch asks (src/io/socket_buffers.ts): FORCE passes the sysctl cap as
 * root; without CAP_NET_ADMIN it fails with EPERM and the plain option gets what the cap allows.
 */
static void set_buffer(int fd, int force, int plain, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force, &bytes, sizeof bytes) < 0) setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof bytes);
}

static int take_client(int listener, const char *dir, int port, int *ctl) {
  unsigned char request[256];
  for (;;) {
    *ctl = accept(listener, NULL, NULL);
    if (*ctl < 0) return -1;
    ssize_t n = read(*ctl, request, sizeof request);
    if (n >= FLOOR_REQUEST_MIN) break;
    /* No request (the bench's probe that we accept connections, or a stray client): wait for the next. */
    close(*ctl);
  }
  struct sockaddr_un client = {.sun_family = AF_UNIX};
  memcpy(client.sun_path, request + 14, sizeof client.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, FLOOR_BUFFER_BYTES);
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, FLOOR_BUFFER_BYTES);
  if (connect(fd, (struct sockaddr *)&client, sizeof client) < 0) return -1;
  struct sockaddr_un mine = {.sun_family = AF_UNIX};
  snprintf(mine.sun_path, sizeof mine.sun_path, "%s/%03d.%d", dir, port, fd);
  unlink(mine.sun_path);
  if (bind(fd, (struct sockaddr *)&mine, sizeof mine) < 0) return -1;
  if (write(*ctl, &mine, FLOOR_SOCKADDR_LEN) != FLOOR_SOCKADDR_LEN) return -1;
  return fd;
}

static int run_floor(const char *dir, int batch, double seconds) {
  if (batch < 1 || batch > FLOOR_MAX_BATCH) batch = BATCH;
  arm_timer(seconds);

  mkdir(dir, 0700);
  struct sockaddr_un ctl_addr = {.sun_family = AF_UNIX};
  snprintf(ctl_addr.sun_path, sizeof ctl_addr.sun_path, "%s/ctl", dir);
  unlink(ctl_addr.sun_path);
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0 || bind(listener, (struct sockaddr *)&ctl_addr, sizeof ctl_addr) < 0 || listen(listener, 4) < 0) {
    fprintf(stderr, "floor: cannot serve %s: %s\n", ctl_addr.sun_path, strerror(errno));
    return 1;
  }
  int data[2], ctl[2];
  for (int i = 0; i < 2; i++) {
    data[i] = take_client(listener, dir, i + 1, &ctl[i]);
    if (data[i] < 0) {
      fprintf(stderr, "floor: client %d: %s\n", i + 1, stop_now ? "none came" : strerror(errno));
      return 1;
    }
  }
  printf("ready\n");
  fflush(stdout);

  static struct iovec iov[FLOOR_MAX_BATCH];
  static struct mmsghdr msgs[FLOOR_MAX_BATCH];
  for (int i = 0; i < batch; i++) {
    iov[i].iov_base = floor_arena[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  struct pollfd fds[4] = {
      {.fd = data[0], .events = POLLIN},
      {.fd = data[1], .events = POLLIN},
      {.fd = ctl[0], .events = POLLIN},
      {.fd = ctl[1], .events = POLLIN},
  };
  while (!stop_now) {
    if (poll(fds, 4, 1000) <= 0) continue;
    /* A client that leaves is not watched again; the bench reads our CPU time before it stops us. */
    if (fds[2].revents != 0) fds[2].fd = -1;
    if (fds[3].revents != 0) fds[3].fd = -1;
    for (int from = 0; from < 2; from++) {
      if ((fds[from].revents & POLLIN) == 0) continue;
      for (;;) {
        for (int i = 0; i < batch; i++) iov[i].iov_len = FLOOR_SLOT;
        int n = recvmmsg(data[from], msgs, (unsigned)batch, MSG_DONTWAIT, NULL);
        if (n <= 0) break;
        for (int i = 0; i < n; i++) iov[i].iov_len = msgs[i].msg_len;
        sendmmsg(data[1 - from], msgs, (unsigned)n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < batch) break;
      }
    }
  }
  for (int i = 0; i < 2; i++) {
    char path[sizeof ctl_addr.sun_path];
    snprintf(path, sizeof path, "%s/%03d.%d", dir, i + 1, data[i]);
    unlink(path);
  }
  unlink(ctl_addr.sun_path);
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen source VNL SIZE SECONDS [mcast]\n"
          "       loadgen sink VNL SECONDS [mcast]\n"
          "       loadgen hold VNL N SECONDS\n"
          "       loadgen floor DIR BATCH SECONDS\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  signal(SIGPIPE, SIG_IGN);
  int mcast = strcmp(argv[argc - 1], "mcast") == 0;
  if (strcmp(argv[1], "source") == 0 && argc == 5 + mcast) return run_source(argv[2], atoi(argv[3]), atof(argv[4]), mcast);
  if (strcmp(argv[1], "sink") == 0 && argc == 4 + mcast) return run_sink(argv[2], atof(argv[3]), mcast);
  if (strcmp(argv[1], "hold") == 0 && argc == 5) return run_hold(argv[2], atoi(argv[3]), atof(argv[4]));
  if (strcmp(argv[1], "floor") == 0 && argc == 5) return run_floor(argv[2], atoi(argv[3]), atof(argv[4]));
  usage();
  return 2;
}
