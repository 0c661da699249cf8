/*
 * The floor for scripts/bench.ts's throughput rows: a two-port "switch" with
 * no switching in it, so the bench can show what any switch built on
 * recvmmsg/sendmmsg over AF_UNIX datagram sockets pays per frame in the
 * kernel alone, in the bench's own position (loadgen's sink and source).
 *
 *   floor DIR BATCH SECONDS   serve DIR/ctl; take two vde:// clients (the sink, then
 *                             the source), print "ready", then move every datagram
 *                             from one port to the other until SIGTERM or SECONDS
 *                             pass
 *
 * Theory of operation: the handshake is a vde_switch's (a v3 request on
 * DIR/ctl, a datagram socket per port connected to the client's and bound to
 * DIR/NNN.FD, the 110-byte sockaddr_un as the reply), with the 1 MiB socket
 * buffers `vde switch` asks for. Forwarding is what our switch thread does
 * minus everything that is not a system call: block in poll, drain a ready
 * port with recvmmsg (BATCH frames a call, into one arena), send each batch
 * to the other port with one sendmmsg straight from that arena, drop what
 * does not fit. No learning, no counters, no copies: its CPU per frame is
 * the kernel's share of forwarding, which no switch on these calls goes
 * below.
 *
 * Bounded by an interval timer, which also interrupts a blocking accept.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define SLOT 1600
#define REQUEST_MIN 122
#define SOCKADDR_LEN 110
#define BUFFER_BYTES (1 << 20)

static unsigned char arena[MAX_BATCH][SLOT];
static volatile sig_atomic_t stop_now = 0;

static void on_alarm(int sig) {
  (void)sig;
  stop_now = 1;
}

/* Takes one client on the ctl socket: its data socket, or -1. */
static int take_client(int listener, const char *dir, int port, int *ctl) {
  *ctl = accept(listener, NULL, NULL);
  if (*ctl < 0) return -1;
  unsigned char request[256];
  ssize_t n = read(*ctl, request, sizeof request);
  if (n < REQUEST_MIN) return -1;
  struct sockaddr_un client = {.sun_family = AF_UNIX};
  memcpy(client.sun_path, request + 14, sizeof client.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int bytes = BUFFER_BYTES;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes);
  if (connect(fd, (struct sockaddr *)&client, sizeof client) < 0) return -1;
  struct sockaddr_un mine = {.sun_family = AF_UNIX};
  snprintf(mine.sun_path, sizeof mine.sun_path, "%s/%03d.%d", dir, port, fd);
  unlink(mine.sun_path);
  if (bind(fd, (struct sockaddr *)&mine, sizeof mine) < 0) return -1;
  if (write(*ctl, &mine, SOCKADDR_LEN) != SOCKADDR_LEN) return -1;
  return fd;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: floor DIR BATCH SECONDS\n");
    return 2;
  }
  const char *dir = argv[1];
  int batch = atoi(argv[2]);
  if (batch < 1 || batch > MAX_BATCH) batch = 64;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it;
  memset(&it, 0, sizeof it);
  it.it_value.tv_sec = atoi(argv[3]) > 0 ? atoi(argv[3]) : 60;
  setitimer(ITIMER_REAL, &it, NULL);

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

  static struct iovec iov[MAX_BATCH];
  static struct mmsghdr msgs[MAX_BATCH];
  for (int i = 0; i < batch; i++) {
    iov[i].iov_base = arena[i];
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
        for (int i = 0; i < batch; i++) iov[i].iov_len = SLOT;
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
