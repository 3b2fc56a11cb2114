/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * raw-loop - the bare lower bound for bench/exits-rate.sh: the same trigger and decoding as
 * `kvmdci-exits --trigger watch`, written directly on a socket with no library in the loop.
 *
 *   connect, qSupported, `?`, Z2,<stat_exits>,8 per vCPU
 *   loop: c -> T05...;watch:ADDR; -> m<vcpu+vmcb_off>,8 -> m<vmcb+code_off>,4 -> count
 *   (VMCB_OFF '-': Intel VMX, the exit reason is read at vcpu+code_off, one read per hit)
 *   after the duration: (no hit pending: 0x03 and its stop) z2 each, D;1
 *
 * QEMU's gdbstub in system mode does not wait for '+' acks, so none are sent; '+' from the
 * stub is skipped. While the VM runs nothing but 0x03 is ever written (any other byte pauses
 * QEMU without a stop reply). The addresses come from bench/resolve (libkvmdci), before.
 *
 * Usage: raw-loop [-p] SOCKET SECONDS VMCB_OFF CODE_OFF VCPU:STAT_EXITS [VCPU:STAT_EXITS...]
 * Env: RAW_LOOP_TRACE=1 prints every packet; RAW_LOOP_CHECK=1 also reads stat.exits at each
 * hit (a third read: slower) and reports hits after which it did not grow by exactly one.
 *   -p  pipeline the second read and the `c` in one write (one round trip less per hit;
 *       not what kvmdci-exits does, shown only as a further bound)
 * Output: one line `RAW_RESULT hits=N seconds=S stat_delta=D unreadable=N foreign=N end=hit|interrupt
 * max_gap_ms=G reasons=0xCODE:N ...` (end: how the run ended; max_gap_ms: the longest wait for
 * a stop, VM running)
 * (stat_delta: stat.exits summed over the vCPUs, read while stopped at the start and at the
 * end; -1 when it could not be read).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_VCPUS 64
#define MAX_CODES 256
#define MAX_THREADS 64
#define REPLY_TIMEOUT_MS 60000 /* Bochs under load answers a packet in well under 1 s */

static int fd = -1;
static char rbuf[65536];
static size_t rlen, rpos;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("raw-loop: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int trace;

/* What was sent last (its start), for the error when no reply comes. */
static char last_sent[64];

static void write_all(const char *p, size_t n)
{
	snprintf(last_sent, sizeof(last_sent), "%.*s", (int)(n < 60 ? n : 60), p);
	if (trace)
		fprintf(stderr, "-> %.*s\n", (int)n, p);
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write: %s", w < 0 ? strerror(errno) : "short write");
		p += w;
		n -= (size_t)w;
	}
}

/* Frame one packet into @out (no NUL); returns its length. */
static size_t frame(char *out, size_t cap, const char *data)
{
	unsigned sum = 0;
	size_t n = strlen(data);
	if (n + 5 > cap)
		die("packet too long");
	out[0] = '$';
	for (size_t i = 0; i < n; i++) {
		out[1 + i] = data[i];
		sum += (unsigned char)data[i];
	}
	snprintf(out + 1 + n, 4, "#%02x", sum & 0xff);
	return n + 4;
}

/* Send one or more packets in a single write(). */
static void send_packets(int count, ...)
{
	char buf[4096];
	size_t len = 0;
	va_list ap;
	va_start(ap, count);
	for (int i = 0; i < count; i++)
		len += frame(buf + len, sizeof(buf) - len, va_arg(ap, const char *));
	va_end(ap);
	write_all(buf, len);
}

/* 1 when bytes are buffered or arrive within @timeout_ms (-1: forever), 0 on timeout. */
static int wait_readable(int timeout_ms)
{
	if (rpos < rlen)
		return 1;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	for (;;) {
		int r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("poll: %s", strerror(errno));
		return r > 0;
	}
}

static int getbyte(void)
{
	if (rpos == rlen) {
		ssize_t r;
		/* a reply (or the rest of one) is due: a stub that hangs, or a lab machine so
		 * loaded that it stalls, ends the run with a line instead of a silent wait */
		if (!wait_readable(REPLY_TIMEOUT_MS))
			die("no reply from the stub within %d s (last sent: '%s'); the machine may be "
			    "overloaded or the stub hung", REPLY_TIMEOUT_MS / 1000, last_sent);
		do
			r = read(fd, rbuf, sizeof(rbuf));
		while (r < 0 && errno == EINTR);
		if (r < 0)
			die("read: %s", strerror(errno));
		if (r == 0)
			die("the stub closed the connection");
		rlen = (size_t)r;
		rpos = 0;
	}
	return (unsigned char)rbuf[rpos++];
}

/* Read one packet's payload into @out (NUL-terminated, run-length expanded). Skips '+'/'-'. */
static size_t recv_packet(char *out, size_t cap)
{
	int c;
	size_t n = 0;
	do
		c = getbyte();
	while (c != '$');
	for (;;) {
		c = getbyte();
		if (c == '#')
			break;
		if (c == '}') { /* escape */
			c = getbyte() ^ 0x20;
		} else if (c == '*' && n > 0) { /* run-length: repeat previous char */
			int rep = getbyte() - 29;
			while (rep-- > 0 && n + 1 < cap) {
				out[n] = out[n - 1];
				n++;
			}
			continue;
		}
		if (n + 1 < cap)
			out[n++] = (char)c;
	}
	getbyte(); /* checksum, not checked: a local socket does not corrupt bytes */
	getbyte();
	out[n] = 0;
	if (trace)
		fprintf(stderr, "<- %s\n", out);
	return n;
}

static char pkt[16384];

/* One request, one reply. */
static const char *transact(const char *req)
{
	send_packets(1, req);
	recv_packet(pkt, sizeof(pkt));
	return pkt;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode an `m` reply of @len bytes as a little-endian value; -1 on an error reply. */
static int decode_le(const char *r, unsigned len, uint64_t *val)
{
	uint64_t v = 0;
	if (strlen(r) != 2 * len)
		return -1;
	for (unsigned i = 0; i < len; i++) {
		int hi = hexval(r[2 * i]), lo = hexval(r[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		v |= (uint64_t)(hi << 4 | lo) << (8 * i);
	}
	*val = v;
	return 0;
}

static struct {
	uint64_t vcpu, stat;
} vc[MAX_VCPUS];
static int nvc;
static char threads[MAX_THREADS][32];
static int nthreads;

static struct {
	int vcpu;
	uint32_t code;
	uint64_t count;
} codes[MAX_CODES];
static int ncodes;
static uint64_t hits, unreadable, foreign;

static void count(int v, uint32_t code)
{
	for (int i = 0; i < ncodes; i++)
		if (codes[i].vcpu == v && codes[i].code == code) {
			codes[i].count++;
			return;
		}
	if (ncodes < MAX_CODES)
		codes[ncodes++] = (typeof(codes[0])){ v, code, 1 };
}

static uint64_t vmcb_off, code_off;
static bool direct; /* VMX: the exit reason in the vCPU struct itself */
static bool pipeline, check;
static uint64_t last_val[MAX_VCPUS], repeats;
static char pkt_copy[128];

/*
 * Handle the stop reply in pkt. Returns 1 for a hit on one of our watchpoints (decoded and
 * counted; the target is stopped), 0 for any other stop. With @resume (pipelined mode) the
 * `c` goes out with the last read, and 2 is returned for a hit after which the target runs.
 */
static int handle_stop(bool resume)
{
	const char *w;
	uint64_t addr, vmcb, code;
	char req[64];
	int v;

	if (pkt[0] != 'T' || !(w = strstr(pkt, "watch:")))
		return 0;
	addr = strtoull(w + 6, NULL, 16);
	if (check)
		snprintf(pkt_copy, sizeof(pkt_copy), "%.127s", pkt);
	for (v = 0; v < nvc && vc[v].stat != addr; v++)
		;
	if (v == nvc) {
		foreign++;
		return 0;
	}
	hits++;
	if (check) { /* diagnostic: did this hit change the counter? (one more read per hit) */
		uint64_t val;
		snprintf(req, sizeof(req), "m%" PRIx64 ",8", vc[v].stat);
		if (decode_le(transact(req), 8, &val) == 0) {
			if (last_val[v] && val != last_val[v] + 1) {
				repeats++;
				fprintf(stderr, "raw-loop: hit %" PRIu64 " on vCPU %d: stat.exits %" PRIu64
					" after %" PRIu64 " (%s)\n", hits, v, val, last_val[v], pkt_copy);
			}
			last_val[v] = val;
		}
	}
	snprintf(req, sizeof(req), "m%" PRIx64 ",8", vc[v].vcpu + vmcb_off);
	if (direct) {
		vmcb = vc[v].vcpu;
	} else if (decode_le(transact(req), 8, &vmcb) < 0) {
		unreadable++;
		count(v, 0xffffffffu);
		return 1;
	}
	snprintf(req, sizeof(req), "m%" PRIx64 ",4", vmcb + code_off);
	if (resume) {
		send_packets(2, req, "c");
		recv_packet(pkt, sizeof(pkt));
	} else {
		transact(req);
	}
	if (decode_le(pkt, 4, &code) < 0) {
		unreadable++;
		code = 0xffffffffu;
	}
	count(v, (uint32_t)code);
	return resume ? 2 : 1;
}

/* Sum of stat.exits of all vCPUs, read through the first CPU whose paging maps it (a CPU
 * that runs the nested guest reads through the guest's page tables). -1 if none can. */
static int64_t read_stats(void)
{
	char req[96];
	for (int t = 0; t < nthreads; t++) {
		snprintf(req, sizeof(req), "Hg%.31s", threads[t]);
		if (strcmp(transact(req), "OK"))
			continue;
		uint64_t sum = 0, val;
		int v;
		for (v = 0; v < nvc; v++) {
			snprintf(req, sizeof(req), "m%" PRIx64 ",8", vc[v].stat);
			if (decode_le(transact(req), 8, &val) < 0)
				break;
			sum += val;
		}
		if (v == nvc)
			return (int64_t)sum;
	}
	return -1;
}

static void list_threads(void)
{
	const char *r = transact("qfThreadInfo");
	while (r[0] == 'm') {
		const char *p = r + 1;
		while (*p && nthreads < MAX_THREADS) {
			size_t n = strcspn(p, ",");
			if (n >= sizeof(threads[0]))
				n = sizeof(threads[0]) - 1;
			memcpy(threads[nthreads], p, n);
			threads[nthreads++][n] = 0;
			p += n;
			if (*p == ',')
				p++;
		}
		r = transact("qsThreadInfo");
	}
}

int main(int argc, char **argv)
{
	int a = 1;
	trace = getenv("RAW_LOOP_TRACE") != NULL;
	check = getenv("RAW_LOOP_CHECK") != NULL;
	if (a < argc && !strcmp(argv[a], "-p")) {
		pipeline = true;
		a++;
	}
	if (argc - a < 5) {
		fprintf(stderr, "usage: raw-loop [-p] SOCKET SECONDS VMCB_OFF CODE_OFF "
				"VCPU:STAT_EXITS [VCPU:STAT_EXITS...]\n");
		return 2;
	}
	const char *path = argv[a];
	double duration = atof(argv[a + 1]);
	direct = !strcmp(argv[a + 2], "-");
	vmcb_off = direct ? 0 : strtoull(argv[a + 2], NULL, 0);
	code_off = strtoull(argv[a + 3], NULL, 0);
	for (int i = a + 4; i < argc && nvc < MAX_VCPUS; i++) {
		char *colon;
		vc[nvc].vcpu = strtoull(argv[i], &colon, 0);
		if (*colon != ':')
			die("bad vCPU argument '%s' (VCPU:STAT_EXITS)", argv[i]);
		vc[nvc].stat = strtoull(colon + 1, NULL, 0);
		nvc++;
	}
	if (duration <= 0)
		die("SECONDS must be positive");

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		die("socket path too long");
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s: %s", path, strerror(errno));

	/* attach: QEMU stops the VM when a debugger connects, and may report that stop
	 * (T02...) unasked before the reply to our first request: skip stop replies there */
	transact("qSupported:multiprocess+;vContSupported+");
	while (pkt[0] == 'T' || pkt[0] == 'S')
		recv_packet(pkt, sizeof(pkt));
	transact("?"); /* also removes all breakpoints: once, here */
	list_threads();
	if (!nthreads)
		die("the stub listed no threads");
	int64_t stat0 = read_stats();
	char req[64];
	for (int v = 0; v < nvc; v++) {
		snprintf(req, sizeof(req), "Z2,%" PRIx64 ",8", vc[v].stat);
		if (strcmp(transact(req), "OK"))
			die("Z2 on 0x%" PRIx64 " failed: '%s'", vc[v].stat, pkt);
	}

	double t0 = now(), end = t0 + duration, t1, last = t0, max_gap = 0;
	const char *how = "hit";
	bool running = false;
	for (;;) {
		if (!running) {
			send_packets(1, "c");
			running = true;
		}
		int left = (int)((end - now()) * 1000.0) + 1;
		if (left < 0)
			left = 0;
		if (!wait_readable(left)) {
			/* time is up while the VM runs: interrupt it; a hit may race the 0x03 */
			double ti = now();
			write_all("\x03", 1);
			recv_packet(pkt, sizeof(pkt));
			how = "interrupt";
			if (now() - ti > 0.1)
				fprintf(stderr, "raw-loop: the stop after 0x03 took %.3f s\n", now() - ti);
			running = false;
			handle_stop(false);
			t1 = now();
			break;
		}
		recv_packet(pkt, sizeof(pkt));
		running = false;
		if (now() - last > max_gap)
			max_gap = now() - last;
		last = now();
		bool more = now() < end;
		int r = handle_stop(pipeline && more);
		if (r == 2)
			running = true;
		if (!more && !running) {
			t1 = now();
			break;
		}
	}

	/* the target is stopped: clean up and let it run */
	int64_t stat1 = read_stats();
	for (int v = 0; v < nvc; v++) {
		snprintf(req, sizeof(req), "z2,%" PRIx64 ",8", vc[v].stat);
		transact(req);
	}
	if (strcmp(transact("D;1"), "OK"))
		fprintf(stderr, "raw-loop: detach answered '%s'\n", pkt);
	close(fd);

	printf("RAW_RESULT hits=%" PRIu64 " seconds=%.6f stat_delta=%" PRId64 " unreadable=%" PRIu64
	       " foreign=%" PRIu64 " end=%s max_gap_ms=%.1f reasons=",
	       hits, t1 - t0, stat0 >= 0 && stat1 >= 0 ? stat1 - stat0 : -1, unreadable, foreign, how,
	       max_gap * 1e3);
	/* per reason over all vCPUs, largest first */
	for (int i = 0; i < ncodes; i++)
		for (int j = i + 1; j < ncodes; j++)
			if (codes[j].count > codes[i].count) {
				typeof(codes[0]) x = codes[i];
				codes[i] = codes[j];
				codes[j] = x;
			}
	for (int i = 0; i < ncodes; i++)
		printf("%s0x%x:%" PRIu64, i ? " " : "", codes[i].code, codes[i].count);
	printf("%s\n", ncodes ? "" : "-");
	if (check)
		printf("RAW_CHECK hits_not_plus_one=%" PRIu64 "\n", repeats);
	return 0;
}
