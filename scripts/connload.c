/*
 * Connection load for scripts/bench.ts's slirp section: many TCP connections
 * at once through a slirp's inbound forward, as `ab -c N` or `wrk` would open
 * them against a web server in a guest.
 *
 *   connload serve PORT                  in the guest: accept on 0.0.0.0:PORT, send one byte,
 *                                        close; prints "ready" once listening
 *   connload connect PORT N SECONDS      on the host: N connections to 127.0.0.1:PORT at once,
 *                                        each read to its end and closed, then opened again;
 *                                        prints "connect connections=.. failures=.. seconds=.. cpu=.."
 *
 * Both ends are C so that the row measures the slirps between them, not the
 * ends: a Python epoll client took 16-21 us of CPU a connection, a Deno one
 * with 16 async loops 23-25, this one 10-14 (mostly the kernel's connect and
 * close); a Python acceptor 6-10 us, this one 2-5. On two cores that all of
 * the chain shares, every stage's CPU comes out of the rate.
 *
 * The client is one epoll loop with non-blocking sockets. A connection that
 * has not ended when SECONDS pass is not counted; one refused, reset or that
 * could not be opened counts as a failure (and the slot is opened again after
 * a millisecond, so a missing forward cannot spin a core).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static int port_arg(const char *s) {
  int p = atoi(s);
  if (p < 1 || p > 65535) {
    fprintf(stderr, "connload: bad port %s\n", s);
    exit(2);
  }
  return p;
}

static int serve(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1024) < 0) {
    perror("connload serve");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    (void)send(c, "x", 1, MSG_NOSIGNAL);
    close(c);
  }
}

static int ep;
static struct sockaddr_in target;

/* Opens one connection and watches it; -1 when it could not even start. */
static int open_one(void) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  if (connect(s, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
    close(s);
    return -1;
  }
  struct epoll_event e = {.events = EPOLLIN, .data.fd = s};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &e) < 0) {
    close(s);
    return -1;
  }
  return 0;
}

static int connect_load(int port, int n, double seconds) {
  if (n < 1 || n > MAX_CONNS || !(seconds > 0 && seconds < 600)) {
    fprintf(stderr, "connload connect: N is 1-%d, SECONDS 0-600\n", MAX_CONNS);
    return 2;
  }
  target.sin_family = AF_INET;
  target.sin_port = htons((unsigned short)port);
  target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ep = epoll_create1(EPOLL_CLOEXEC);
  long done = 0, failures = 0;
  int idle = n; /* slots with no connection open */
  char buf[256];
  struct epoll_event evs[64];
  double t0 = now(), c0 = cpu_seconds(), end = t0 + seconds;
  for (;;) {
    while (idle > 0) {
      if (open_one() < 0) {
        failures++;
        break;
      }
      idle--;
    }
    double t = now();
    if (t >= end) break;
    int wait_ms = idle > 0 ? 1 : (int)((end - t) * 1000) + 1;
    int k = epoll_wait(ep, evs, 64, wait_ms);
    for (int i = 0; i < k; i++) {
      int fd = evs[i].data.fd;
      ssize_t r;
      while ((r = recv(fd, buf, sizeof buf, 0)) > 0) {
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r == 0) {
        done++;
      } else {
        failures++;
      }
      close(fd);
      idle++;
    }
  }
  printf("connect connections=%ld failures=%ld seconds=%.3f cpu=%.3f\n", done, failures, now() - t0,
         cpu_seconds() - c0);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 3 && strcmp(argv[1], "serve") == 0) return serve(port_arg(argv[2]));
  if (argc == 5 && strcmp(argv[1], "connect") == 0) {
    return connect_load(port_arg(argv[2]), atoi(argv[3]), atof(argv[4]));
  }
  fprintf(stderr, "usage: connload serve PORT | connload connect PORT N SECONDS\n");
  return 2;
}
