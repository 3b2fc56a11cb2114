// SPDX-License-Identifier: MIT
/*
 * workload - the lab's guest workload: a small VMM on /dev/kvm.
 *
 * It creates VMs with an in-kernel irqchip, a PIT, ioeventfds and a coalesced MMIO zone, and
 * runs real-mode guests (guest.S) whose loop exits to KVM in a known pattern. It prints KVM's
 * own per-vCPU binary stats as JSON. In --window mode the vCPU threads are parked outside
 * KVM_RUN at both ends of a measured window, so the stats deltas of the window are exact: a
 * tracer that follows the process from before the first SIGUSR1 until "window-done" must see
 * exactly these exits.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <dirent.h>
#include <limits.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Guest memory layout; keep in step with guest.S. */
#define GUEST_MEM_SIZE		0x10000
#define GUEST_LOAD		0x1000
#define GUEST_IRQ_COUNT		0x0500
#define GUEST_HLT_BASE		0x0504
#define GUEST_STACK_TOP		0x8000
#define GUEST_STACK_SIZE	0x100
#define PORT_DONE		0x3f8
#define PORT_INIT		0x3f9
#define PORT_IOEVENT		0x700
#define PORT_IOEVENT_DM		0x704
#define DATAMATCH		0x1234
#define MMIO_IOEVENT		0xa0000
#define MMIO_COALESCED		0xa1000
#define MMIO_COALESCED_SIZE	0x1000
#define MMIO_USER		0xa2000
#define HLT_EVERY		16
#define PIT_HZ			1000
#define OUTS_PER_ITERATION	3	/* 0x700, 0x704, 0x3f8 */

#define MAX_VMS			64
#define MAX_EXTRA_IOEV		1000	/* --ioeventfds */
#define PORT_EXTRA_IOEV		0x1000	/* extra ioeventfd i: port 0x1000 + 4 * i, len 4, datamatch i */
#define MAX_VCPUS		64	/* per VM; bounded by the guest stacks */
#define STATE_FILE		"/tmp/workload.state"
#define PID_FILE		"/tmp/workload.pid"

extern const uint8_t guest_code[], guest_code_end[], guest_entry_bsp[], guest_entry_ap[],
	guest_spin[];

enum { IOEV_PIO, IOEV_PIO_DM, IOEV_MMIO, NR_IOEV };
enum { SNAP_START, SNAP_END, SNAP_FINAL, NR_SNAP };
enum { PHASE_WARMUP, PHASE_WINDOW, PHASE_AFTER, NR_PHASES };
enum { RUN_DONE = 0, RUN_STOPPED = 1, RUN_FAILED = -1 };

#define RUN_FOREVER		UINT64_MAX

struct ioev_def {
	const char *bus;
	uint64_t addr;
	uint32_t len;
	bool datamatch;
	uint64_t data;
};

static const struct ioev_def ioev_defs[NR_IOEV] = {
	[IOEV_PIO] = { "pio", PORT_IOEVENT, 1, false, 0 },
	[IOEV_PIO_DM] = { "pio", PORT_IOEVENT_DM, 2, true, DATAMATCH },
	[IOEV_MMIO] = { "mmio", MMIO_IOEVENT, 4, false, 0 },
};

struct stat_desc {
	char *name;
	uint32_t type;		/* KVM_STATS_TYPE_* */
	uint32_t size;		/* number of u64 values */
	uint32_t index;		/* first value, in u64 units from the data offset */
};

/* Exits the workload itself saw in user space. */
struct counters {
	uint64_t iterations;
	uint64_t io_to_user;
	uint64_t mmio_to_user;
	uint64_t io_other;
	uint64_t mmio_other;
};

struct vm;

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
	int phases_done;		/* under ctl.lock */
	bool init_done;
	struct counters cnt;		/* written by the vCPU thread only */
	struct counters cnt_snap[NR_SNAP];
	int stats_fd;
	uint32_t nstats;
	struct stat_desc *stats;
	uint64_t stats_data_offset;
	size_t stats_nvalues;
	uint64_t *snap[NR_SNAP];
	bool have_snap[NR_SNAP];
};

struct vm {
	int index;
	int fd;
	uint8_t *mem;
	int efd[NR_IOEV];
	uint64_t signals[NR_IOEV];
	uint64_t signals_snap[NR_SNAP][NR_IOEV];
	pthread_mutex_t ring_lock;
	struct kvm_coalesced_mmio_ring *ring;
	uint64_t coalesced;		/* under ring_lock */
	uint64_t coalesced_snap[NR_SNAP];
	uint32_t irqs_snap[NR_SNAP];
	int nvcpus;
	struct vcpu *vcpus;
	int *extra_efd;		/* --ioeventfds, VM 0 only */
	int nextra;
	/* Without KVM_GET_STATS_FD (before Linux 5.14): the VM's debugfs statistics, each vCPU
	 * counter summed over the VM's vCPUs (virt/kvm/kvm_main.c, vcpu_stat_get_per_vm) */
	int ndbg;
	char **dbg_names;
	uint64_t *dbg_snap[NR_SNAP];
};

/* KVM_CAP_BINARY_STATS_FD: per-vCPU binary stats; else the VMs' debugfs files. */
static bool binary_stats;

static struct {
	int vms;
	int vcpus;
	uint64_t iterations;
	uint64_t warmup;
	uint64_t after;
	double seconds;
	bool seconds_set;
	bool window;
	bool nested;
	bool spin;
	uint32_t rounds;
	double timeout;
	bool quiet;
	int ioeventfds;
	const char *json;
	const char *state;
	const char *pid_file;
} opt = {
	.vms = 1, .vcpus = 1, .iterations = 2000, .warmup = 200, .after = 1000, .rounds = 50,
	.state = STATE_FILE, .pid_file = PID_FILE,
};

/* Coordination of the main thread, the signal thread and the vCPU threads. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int go;			/* phases released: a vCPU runs phase p once go > p */
	int parked;		/* phases finished, summed over all vCPUs */
	unsigned int usr1;	/* SIGUSR1s received */
	int stop_signal;	/* SIGTERM/SIGINT/SIGHUP received, or 0 */
	bool running;		/* all VMs set up, vCPU threads started */
	bool failed;
	char error[256];
} ctl = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static atomic_bool stop_requested;
static int kvm_fd = -1;
static long page_size;
static uint32_t ring_max;
static struct vm *vms;
static int total_vcpus;
static uint64_t phase_target[NR_PHASES];
static int nphases;
static uint64_t window_ns;

/* Print an error message to stderr. */
static void err(const char *fmt, ...)
{
	va_list ap;

	fputs("workload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Print an error and exit 1. */
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("workload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Monotonic time in nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Write a whole buffer to fd; 0 or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replace path atomically with buf: write path.tmp, then rename it. */
static int write_file_atomic(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		err("%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err("%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, buf, len) < 0) {
		err("%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		err("%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Write one JSON line to the state file. */
static int write_state(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	return write_file_atomic(opt.state, line, (size_t)n);
}

/* Record the first failure, ask everybody to stop and wake the main thread. */
static void fail(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&ctl.lock);
	if (!ctl.failed) {
		ctl.failed = true;
		va_start(ap, fmt);
		vsnprintf(ctl.error, sizeof(ctl.error), fmt, ap);
		va_end(ap);
	}
	pthread_cond_broadcast(&ctl.cond);
	pthread_mutex_unlock(&ctl.lock);
	atomic_store(&stop_requested, true);
}

/* Get every vCPU thread out of KVM_RUN and keep it out: immediate_exit plus a signal. */
static void kick_all(void)
{
	atomic_store(&stop_requested, true);
	pthread_mutex_lock(&ctl.lock);
	for (int i = 0; i < opt.vms; i++) {
		for (int j = 0; j < vms[i].nvcpus; j++) {
			struct vcpu *v = &vms[i].vcpus[j];

			if (!v->run)
				continue;
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
			if (v->started)
				pthread_kill(v->thread, SIGUSR2);
		}
	}
	pthread_cond_broadcast(&ctl.cond);
	pthread_mutex_unlock(&ctl.lock);
}

/* SIGUSR2 handler: does nothing; its only job is to interrupt KVM_RUN with EINTR. */
static void on_kick(int sig)
{
	(void)sig;
}

/* Signal thread: turns SIGUSR1 into a counter and SIGTERM/SIGINT/SIGHUP into a stop. */
static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	bool kick;
	int sig;

	for (;;) {
		if (sigwait(set, &sig))
			continue;
		if (sig == SIGUSR1) {
			pthread_mutex_lock(&ctl.lock);
			ctl.usr1++;
			pthread_cond_broadcast(&ctl.cond);
			pthread_mutex_unlock(&ctl.lock);
			continue;
		}
		pthread_mutex_lock(&ctl.lock);
		if (!ctl.stop_signal)
			ctl.stop_signal = sig;
		kick = ctl.running;
		atomic_store(&stop_requested, true);
		pthread_cond_broadcast(&ctl.cond);
		pthread_mutex_unlock(&ctl.lock);
		if (kick)
			kick_all();
	}
	return NULL;
}

/* Move consumed coalesced MMIO entries out of the VM's ring; count them. */
static void drain_ring(struct vm *vm)
{
	struct kvm_coalesced_mmio_ring *ring = vm->ring;
	uint32_t first, last;

	pthread_mutex_lock(&vm->ring_lock);
	first = ring->first;
	last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE);
	if (last < ring_max) {
		while (first != last) {
			first = (first + 1) % ring_max;
			vm->coalesced++;
		}
		__atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&vm->ring_lock);
}

/* Handle one KVM_EXIT_IO: an iteration, the end of the set-up code, or something else. */
static void handle_io(struct vcpu *v, uint64_t *done)
{
	struct kvm_run *run = v->run;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;

	v->cnt.io_to_user++;
	if (out && run->io.port == PORT_DONE && run->io.size == 1 && run->io.count == 1) {
		v->cnt.iterations++;
		(*done)++;
	} else if (out && run->io.port == PORT_INIT) {
		v->init_done = true;
	} else {
		v->cnt.io_other++;
		if (!out)
			memset((uint8_t *)run + run->io.data_offset, 0xff,
			       (size_t)run->io.size * run->io.count);
	}
}

/* Handle one KVM_EXIT_MMIO: the guest's write to the unmapped page, or something else. */
static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	v->cnt.mmio_to_user++;
	if (!run->mmio.is_write) {
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		v->cnt.mmio_other++;
	} else if (run->mmio.phys_addr != MMIO_USER || run->mmio.len != 2) {
		v->cnt.mmio_other++;
	}
}

/*
 * Run the vCPU until it has finished `target` more iterations (after its set-up code, the
 * first time). Returns RUN_DONE, RUN_STOPPED or RUN_FAILED.
 */
static int run_vcpu(struct vcpu *v, uint64_t target)
{
	struct kvm_run *run = v->run;
	uint64_t done = 0;

	while (!v->init_done || done < target) {
		if (atomic_load(&stop_requested))
			return RUN_STOPPED;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fail("vm %d vcpu %d: KVM_RUN: %s", v->vm->index, v->id, strerror(errno));
			return RUN_FAILED;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v, &done);
			break;
		case KVM_EXIT_MMIO:
			handle_mmio(v);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_FAIL_ENTRY:
			fail("vm %d vcpu %d: KVM_EXIT_FAIL_ENTRY, reason 0x%llx", v->vm->index,
			     v->id,
			     (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			return RUN_FAILED;
		case KVM_EXIT_INTERNAL_ERROR:
			fail("vm %d vcpu %d: KVM_EXIT_INTERNAL_ERROR, suberror %u", v->vm->index,
			     v->id, run->internal.suberror);
			return RUN_FAILED;
		case KVM_EXIT_SHUTDOWN:
			fail("vm %d vcpu %d: KVM_EXIT_SHUTDOWN (triple fault)", v->vm->index,
			     v->id);
			return RUN_FAILED;
		default:
			fail("vm %d vcpu %d: unexpected exit reason %u", v->vm->index, v->id,
			     run->exit_reason);
			return RUN_FAILED;
		}
		drain_ring(v->vm);
	}
	return RUN_DONE;
}

/* vCPU thread: run each phase once the main thread releases it, park between phases. */
static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	for (int p = 0; p < nphases; p++) {
		int r;

		pthread_mutex_lock(&ctl.lock);
		while (ctl.go <= p && !atomic_load(&stop_requested))
			pthread_cond_wait(&ctl.cond, &ctl.lock);
		pthread_mutex_unlock(&ctl.lock);
		if (atomic_load(&stop_requested))
			break;

		r = run_vcpu(v, phase_target[p]);
		if (r != RUN_DONE)
			break;

		drain_ring(v->vm);
		pthread_mutex_lock(&ctl.lock);
		v->phases_done = p + 1;
		ctl.parked++;
		pthread_cond_broadcast(&ctl.cond);
		pthread_mutex_unlock(&ctl.lock);
	}
	return NULL;
}

/* ioctl that must succeed, or die naming it. */
static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);

	if (r < 0)
		die("%s: %s", what, strerror(errno));
	return r;
}

/* Read stats header and descriptors of a vCPU's binary stats fd. */
static void stats_open(struct vcpu *v)
{
	struct kvm_stats_header hdr;
	size_t stride, max = 0;
	uint8_t *buf;

	if (!binary_stats) {
		v->stats_fd = -1;
		for (int k = 0; k < NR_SNAP; k++)
			if (!(v->snap[k] = calloc(1, sizeof(uint64_t))))
				die("out of memory");
		return;
	}
	v->stats_fd = ioctl(v->fd, KVM_GET_STATS_FD, NULL);
	if (v->stats_fd < 0)
		die("vm %d vcpu %d: KVM_GET_STATS_FD: %s", v->vm->index, v->id, strerror(errno));
	if (pread(v->stats_fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		die("vm %d vcpu %d: reading the stats header failed", v->vm->index, v->id);
	if (hdr.num_desc == 0 || hdr.num_desc > 4096 || hdr.name_size == 0 ||
	    hdr.name_size > 4096)
		die("vm %d vcpu %d: implausible stats header (%u descriptors, names %u)",
		    v->vm->index, v->id, hdr.num_desc, hdr.name_size);

	stride = sizeof(struct kvm_stats_desc) + hdr.name_size;
	buf = malloc(stride * hdr.num_desc);
	v->stats = calloc(hdr.num_desc, sizeof(*v->stats));
	if (!buf || !v->stats)
		die("out of memory");
	if (pread(v->stats_fd, buf, stride * hdr.num_desc, hdr.desc_offset) !=
	    (ssize_t)(stride * hdr.num_desc))
		die("vm %d vcpu %d: reading the stats descriptors failed", v->vm->index, v->id);

	for (uint32_t i = 0; i < hdr.num_desc; i++) {
		struct kvm_stats_desc *d = (struct kvm_stats_desc *)(buf + i * stride);
		struct stat_desc *s = &v->stats[i];

		if (d->offset % 8 || d->size == 0)
			die("vm %d vcpu %d: bad stats descriptor %u", v->vm->index, v->id, i);
		s->name = strndup(d->name, hdr.name_size);
		if (!s->name)
			die("out of memory");
		s->type = d->flags & KVM_STATS_TYPE_MASK;
		s->size = d->size;
		s->index = d->offset / 8;
		if (s->index + s->size > max)
			max = s->index + s->size;
	}
	free(buf);
	v->nstats = hdr.num_desc;
	v->stats_data_offset = hdr.data_offset;
	v->stats_nvalues = max;
	for (int k = 0; k < NR_SNAP; k++) {
		v->snap[k] = calloc(max, sizeof(uint64_t));
		if (!v->snap[k])
			die("out of memory");
	}
}

/* Read a vCPU's stats values into snapshot k. */
static void stats_read(struct vcpu *v, int k)
{
	ssize_t len = (ssize_t)(v->stats_nvalues * sizeof(uint64_t));

	if (v->stats_fd < 0) {
		v->have_snap[k] = true;
		return;
	}
	if (pread(v->stats_fd, v->snap[k], (size_t)len, (off_t)v->stats_data_offset) != len)
		die("vm %d vcpu %d: reading stats failed", v->vm->index, v->id);
	v->have_snap[k] = true;
}

/* Create vCPU `id` of a VM: registers for the real-mode guest, run area, stats. */
static void vcpu_create(struct vm *vm, int id)
{
	struct vcpu *v = &vm->vcpus[id];
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int mmap_size;

	v->vm = vm;
	v->id = id;
	v->fd = xioctl(vm->fd, KVM_CREATE_VCPU, (void *)(long)id, "KVM_CREATE_VCPU");
	mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE: %s", mmap_size < 0 ? strerror(errno) : "too small");
	v->run_size = (size_t)mmap_size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED)
		die("mmap of the vCPU run area: %s", strerror(errno));
	if (!vm->ring) {
		if ((size_t)(KVM_COALESCED_MMIO_PAGE_OFFSET + 1) * (size_t)page_size > v->run_size)
			die("the vCPU run area has no coalesced MMIO ring");
		vm->ring = (void *)((uint8_t *)v->run +
				    KVM_COALESCED_MMIO_PAGE_OFFSET * page_size);
	}

	xioctl(v->fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	sregs.ds.selector = 0;
	sregs.ds.base = 0;
	sregs.ss.selector = 0;
	sregs.ss.base = 0;
	sregs.es.selector = MMIO_IOEVENT >> 4;
	sregs.es.base = MMIO_IOEVENT;
	xioctl(v->fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = GUEST_LOAD + (uint64_t)((opt.spin    ? guest_spin
					    : id == 0 ? guest_entry_bsp
						      : guest_entry_ap) -
					   guest_code);
	regs.rsp = GUEST_STACK_TOP - (uint64_t)id * GUEST_STACK_SIZE;
	regs.rbx = (uint64_t)id;
	regs.rdi = id == 0;
	xioctl(v->fd, KVM_SET_REGS, &regs, "KVM_SET_REGS");

	if (id != 0) {
		/* with an in-kernel irqchip, APs start waiting for INIT/SIPI */
		struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };

		xioctl(v->fd, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE");
	}
	stats_open(v);
}

/* One debugfs statistics file as a number; false if it holds none. */
static bool dbg_read_value(const char *dir, const char *name, uint64_t *val)
{
	char path[PATH_MAX], buf[64], *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	errno = 0;
	*val = strtoull(buf, &end, 10);
	return errno == 0 && end != buf && (*end == '\n' || *end == '\0');
}

static void dbg_dir(const struct vm *vm, char *dir, size_t len)
{
	/* virt/kvm/kvm_main.c, kvm_create_vm_debugfs: "<pid>-<fd>" under debugfs's kvm/ */
	snprintf(dir, len, "/sys/kernel/debug/kvm/%d-%d", (int)getpid(), vm->fd);
}

/* Without binary stats: the names of the VM's numeric debugfs statistics. */
static void vm_debugfs_open(struct vm *vm)
{
	char dir[PATH_MAX];
	struct dirent *e;
	uint64_t val;
	DIR *d;
	int cap = 0;

	dbg_dir(vm, dir, sizeof(dir));
	d = opendir(dir);
	if (!d)
		die("vm %d: no KVM_GET_STATS_FD and no debugfs statistics at %s: %s (mount "
		    "debugfs on /sys/kernel/debug)", vm->index, dir, strerror(errno));
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !dbg_read_value(dir, e->d_name, &val))
			continue;
		if (vm->ndbg == cap) {
			cap = cap ? 2 * cap : 64;
			vm->dbg_names = realloc(vm->dbg_names, (size_t)cap * sizeof(char *));
			if (!vm->dbg_names)
				die("out of memory");
		}
		if (!(vm->dbg_names[vm->ndbg++] = strdup(e->d_name)))
			die("out of memory");
	}
	closedir(d);
	if (!vm->ndbg)
		die("vm %d: no statistics in %s", vm->index, dir);
	for (int k = 0; k < NR_SNAP; k++)
		if (!(vm->dbg_snap[k] = calloc((size_t)vm->ndbg, sizeof(uint64_t))))
			die("out of memory");
}

static void vm_debugfs_read(struct vm *vm, int k)
{
	char dir[PATH_MAX];

	dbg_dir(vm, dir, sizeof(dir));
	for (int i = 0; i < vm->ndbg; i++)
		if (!dbg_read_value(dir, vm->dbg_names[i], &vm->dbg_snap[k][i]))
			die("vm %d: reading %s/%s failed", vm->index, dir, vm->dbg_names[i]);
}

/* JSON: the VM's debugfs statistics, a snapshot or the delta of two. */
static void json_dbg_stats(FILE *f, const struct vm *vm, int k, int base)
{
	fputc('{', f);
	for (int i = 0; i < vm->ndbg; i++)
		fprintf(f, "%s\"%s\":%" PRId64, i ? "," : "", vm->dbg_names[i],
			(int64_t)(vm->dbg_snap[k][i] - (base >= 0 ? vm->dbg_snap[base][i] : 0)));
	fputc('}', f);
}

/* Create VM `index` with its memory, irqchip, PIT, ioeventfds, coalesced zone and vCPUs. */
static void vm_create(struct vm *vm, int index)
{
	size_t code_len = (size_t)(guest_code_end - guest_code);
	struct kvm_userspace_memory_region region;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_reinject_control reinject = { .pit_reinject = 0 };
	struct kvm_coalesced_mmio_zone zone = {
		.addr = MMIO_COALESCED, .size = MMIO_COALESCED_SIZE, .pio = 0,
	};

	vm->index = index;
	vm->fd = xioctl(kvm_fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	pthread_mutex_init(&vm->ring_lock, NULL);

	vm->mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED)
		die("mmap of guest memory: %s", strerror(errno));
	if (GUEST_LOAD + code_len > GUEST_STACK_TOP - MAX_VCPUS * GUEST_STACK_SIZE)
		die("guest code too large");
	memcpy(vm->mem + GUEST_LOAD, guest_code, code_len);
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_MEM_SIZE,
		.userspace_addr = (uintptr_t)vm->mem,
	};
	xioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");

	xioctl(vm->fd, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP");
	xioctl(vm->fd, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
	/*
	 * No tick reinjection: otherwise ticks missed while the guest runs with IF clear pile up
	 * and are delivered back to back after each EOI, and one lost ack stops the PIT for good.
	 */
	xioctl(vm->fd, KVM_REINJECT_CONTROL, &reinject, "KVM_REINJECT_CONTROL");

	for (int i = 0; i < NR_IOEV; i++) {
		const struct ioev_def *d = &ioev_defs[i];
		struct kvm_ioeventfd ioev = { .addr = d->addr, .len = d->len };

		vm->efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vm->efd[i] < 0)
			die("eventfd: %s", strerror(errno));
		ioev.fd = vm->efd[i];
		if (!strcmp(d->bus, "pio"))
			ioev.flags |= KVM_IOEVENTFD_FLAG_PIO;
		if (d->datamatch) {
			ioev.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
			ioev.datamatch = d->data;
		}
		xioctl(vm->fd, KVM_IOEVENTFD, &ioev, "KVM_IOEVENTFD");
	}
	if (index == 0 && opt.ioeventfds) {
		vm->extra_efd = calloc((size_t)opt.ioeventfds, sizeof(*vm->extra_efd));
		if (!vm->extra_efd)
			die("out of memory");
		for (int i = 0; i < opt.ioeventfds; i++) {
			struct kvm_ioeventfd ioev = {
				.addr = PORT_EXTRA_IOEV + 4 * (uint64_t)i, .len = 4,
				.flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH,
				.datamatch = (uint64_t)i,
			};

			ioev.fd = vm->extra_efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (ioev.fd < 0)
				die("eventfd: %s", strerror(errno));
			xioctl(vm->fd, KVM_IOEVENTFD, &ioev, "KVM_IOEVENTFD");
			vm->nextra++;
		}
	}
	xioctl(vm->fd, KVM_REGISTER_COALESCED_MMIO, &zone, "KVM_REGISTER_COALESCED_MMIO");

	vm->vcpus = calloc((size_t)opt.vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		die("out of memory");
	vm->nvcpus = opt.vcpus;
	for (int i = 0; i < vm->nvcpus; i++)
		vm->vcpus[i].fd = vm->vcpus[i].stats_fd = -1;
	for (int i = 0; i < vm->nvcpus; i++)
		vcpu_create(vm, i);
	if (!binary_stats)
		vm_debugfs_open(vm);
}

/* Take snapshot k of everything: stats, counters, ioeventfd signals, ring, guest IRQs. */
static void snapshot(int k)
{
	for (int i = 0; i < opt.vms; i++) {
		struct vm *vm = &vms[i];

		drain_ring(vm);
		vm->coalesced_snap[k] = vm->coalesced;
		for (int e = 0; e < NR_IOEV; e++) {
			uint64_t val;

			if (read(vm->efd[e], &val, sizeof(val)) == (ssize_t)sizeof(val))
				vm->signals[e] += val;
			vm->signals_snap[k][e] = vm->signals[e];
		}
		vm->irqs_snap[k] = __atomic_load_n((uint32_t *)(vm->mem + GUEST_IRQ_COUNT),
						   __ATOMIC_ACQUIRE);
		for (int j = 0; j < vm->nvcpus; j++) {
			struct vcpu *v = &vm->vcpus[j];

			stats_read(v, k);
			v->cnt_snap[k] = v->cnt;
		}
		if (vm->ndbg)
			vm_debugfs_read(vm, k);
	}
}

/*
 * Align vCPU 0's hlt pattern to the window: it halts in window iteration 16, 32, ... (the guest
 * compares its iteration counter with GUEST_HLT_BASE). Only while the vCPUs are parked.
 */
static void align_hlt(void)
{
	for (int i = 0; i < opt.vms; i++) {
		uint16_t base = (uint16_t)vms[i].vcpus[0].cnt.iterations;

		__atomic_store_n((uint16_t *)(vms[i].mem + GUEST_HLT_BASE), base, __ATOMIC_RELEASE);
	}
}

/* Start the vCPU threads. */
static void start_threads(void)
{
	for (int i = 0; i < opt.vms; i++) {
		for (int j = 0; j < vms[i].nvcpus; j++) {
			struct vcpu *v = &vms[i].vcpus[j];
			int r = pthread_create(&v->thread, NULL, vcpu_thread, v);

			if (r)
				die("pthread_create: %s", strerror(r));
			pthread_mutex_lock(&ctl.lock);
			v->started = true;
			pthread_mutex_unlock(&ctl.lock);
		}
	}
	pthread_mutex_lock(&ctl.lock);
	ctl.running = true;
	pthread_mutex_unlock(&ctl.lock);
}

/* Stop every vCPU thread (out of KVM_RUN) and wait for them. */
static void stop_threads(void)
{
	kick_all();
	for (int i = 0; i < opt.vms; i++) {
		for (int j = 0; j < vms[i].nvcpus; j++) {
			struct vcpu *v = &vms[i].vcpus[j];

			if (v->started) {
				pthread_join(v->thread, NULL);
				v->started = false;
			}
		}
	}
}

/* Absolute CLOCK_REALTIME deadline `seconds` from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(double seconds)
{
	struct timespec ts;
	double whole = (double)(long)seconds;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)whole;
	ts.tv_nsec += (long)((seconds - whole) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

enum { WAIT_OK, WAIT_TIMEOUT, WAIT_STOP, WAIT_FAILED };

/*
 * Wait until all vCPUs parked after `phases` phases (usr1 == 0) or until more than `usr1`
 * SIGUSR1s came (usr1 > 0), for at most `seconds` (< 0: no limit).
 */
static int wait_for(int phases, unsigned int usr1, double seconds)
{
	struct timespec dl = deadline_in(seconds < 0 ? 0 : seconds);
	int r = WAIT_OK;

	pthread_mutex_lock(&ctl.lock);
	for (;;) {
		if (ctl.failed) {
			r = WAIT_FAILED;
			break;
		}
		if (ctl.stop_signal) {
			r = WAIT_STOP;
			break;
		}
		if (usr1 ? ctl.usr1 >= usr1 : ctl.parked >= phases * total_vcpus)
			break;
		if (seconds < 0) {
			pthread_cond_wait(&ctl.cond, &ctl.lock);
		} else if (pthread_cond_timedwait(&ctl.cond, &ctl.lock, &dl) == ETIMEDOUT) {
			r = WAIT_TIMEOUT;
			break;
		}
	}
	pthread_mutex_unlock(&ctl.lock);
	return r;
}

/* Name the vCPUs that have not finished `phases` phases (for a timeout message). */
static void report_stragglers(int phases)
{
	pthread_mutex_lock(&ctl.lock);
	for (int i = 0; i < opt.vms; i++)
		for (int j = 0; j < vms[i].nvcpus; j++)
			if (vms[i].vcpus[j].phases_done < phases)
				err("vm %d vcpu %d: still in phase %d (%" PRIu64 " iterations)",
				    i, j, phases - 1, vms[i].vcpus[j].cnt.iterations);
	pthread_mutex_unlock(&ctl.lock);
}

/* Release phase p to the vCPU threads. */
static void release_phase(int p)
{
	pthread_mutex_lock(&ctl.lock);
	ctl.go = p + 1;
	pthread_cond_broadcast(&ctl.cond);
	pthread_mutex_unlock(&ctl.lock);
}

/* JSON: "0x..." address string. */
static void json_hex(FILE *f, uint64_t v)
{
	fprintf(f, "\"0x%" PRIx64 "\"", v);
}

/* JSON: a stats value (scalar or array) from snapshot data, optionally minus a base. */
static void json_stat_value(FILE *f, const struct stat_desc *s, const uint64_t *val,
			    const uint64_t *base)
{
	if (s->size > 1)
		fputc('[', f);
	for (uint32_t i = 0; i < s->size; i++) {
		uint64_t x = val[s->index + i];

		if (base)
			fprintf(f, "%s%" PRId64, i ? "," : "", (int64_t)(x - base[s->index + i]));
		else
			fprintf(f, "%s%" PRIu64, i ? "," : "", x);
	}
	if (s->size > 1)
		fputc(']', f);
}

/* Whether a stat accumulates (so a delta means something). */
static bool stat_is_cumulative(const struct stat_desc *s)
{
	return s->type == KVM_STATS_TYPE_CUMULATIVE || s->type == KVM_STATS_TYPE_LINEAR_HIST ||
	       s->type == KVM_STATS_TYPE_LOG_HIST;
}

/* JSON: {"name": value, ...} of a snapshot, or of the delta of cumulative stats. */
static void json_stats(FILE *f, const struct vcpu *v, int k, int base)
{
	bool first = true;

	fputc('{', f);
	for (uint32_t i = 0; i < v->nstats; i++) {
		const struct stat_desc *s = &v->stats[i];

		if (base >= 0 && !stat_is_cumulative(s))
			continue;
		fprintf(f, "%s\"%s\":", first ? "" : ",", s->name);
		json_stat_value(f, s, v->snap[k], base >= 0 ? v->snap[base] : NULL);
		first = false;
	}
	fputc('}', f);
}

/* JSON: the workload's own user-space exit counts, as a delta of two snapshots or absolute. */
static void json_counters(FILE *f, const struct counters *c, const struct counters *base)
{
	static const struct counters zero;

	if (!base)
		base = &zero;
	fprintf(f, "\"iterations\":%" PRIu64 ",\"io_to_user\":%" PRIu64
		",\"mmio_to_user\":%" PRIu64 ",\"io_other\":%" PRIu64 ",\"mmio_other\":%" PRIu64,
		c->iterations - base->iterations, c->io_to_user - base->io_to_user,
		c->mmio_to_user - base->mmio_to_user, c->io_other - base->io_other,
		c->mmio_other - base->mmio_other);
}

/* JSON: the devices a VM registered. */
static void json_devices(FILE *f, const struct vm *vm)
{
	fputs("\"memslots\":[{\"slot\":0,\"guest_phys_addr\":\"0x0\",\"size\":", f);
	fprintf(f, "%d,\"userspace_addr\":", GUEST_MEM_SIZE);
	json_hex(f, (uintptr_t)vm->mem);
	fputs("}],\"devices\":[", f);
	for (int i = 0; i < NR_IOEV; i++) {
		const struct ioev_def *d = &ioev_defs[i];

		fprintf(f, "{\"type\":\"ioeventfd\",\"bus\":\"%s\",\"addr\":", d->bus);
		json_hex(f, d->addr);
		fprintf(f, ",\"len\":%u,\"datamatch\":", d->len);
		if (d->datamatch)
			json_hex(f, d->data);
		else
			fputs("null", f);
		fprintf(f, ",\"fd\":%d},", vm->efd[i]);
	}
	for (int i = 0; i < vm->nextra; i++) {
		fputs("{\"type\":\"ioeventfd\",\"bus\":\"pio\",\"addr\":", f);
		json_hex(f, PORT_EXTRA_IOEV + 4 * (uint64_t)i);
		fputs(",\"len\":4,\"datamatch\":", f);
		json_hex(f, (uint64_t)i);
		fprintf(f, ",\"fd\":%d},", vm->extra_efd[i]);
	}
	fputs("{\"type\":\"coalesced_mmio\",\"addr\":", f);
	json_hex(f, MMIO_COALESCED);
	fprintf(f, ",\"size\":%d,\"pio\":false},", MMIO_COALESCED_SIZE);
	fputs("{\"type\":\"irqchip\",\"ranges\":["
	      "{\"name\":\"pic_master\",\"bus\":\"pio\",\"addr\":\"0x20\",\"len\":2},"
	      "{\"name\":\"pic_slave\",\"bus\":\"pio\",\"addr\":\"0xa0\",\"len\":2},"
	      "{\"name\":\"pic_elcr\",\"bus\":\"pio\",\"addr\":\"0x4d0\",\"len\":2},"
	      "{\"name\":\"ioapic\",\"bus\":\"mmio\",\"addr\":\"0xfec00000\",\"len\":256}]},", f);
	fputs("{\"type\":\"pit\",\"flags\":\"speaker_dummy\",\"reinject\":false,\"ranges\":["
	      "{\"name\":\"pit\",\"bus\":\"pio\",\"addr\":\"0x40\",\"len\":4},"
	      "{\"name\":\"speaker\",\"bus\":\"pio\",\"addr\":\"0x61\",\"len\":4}]}]", f);
}

/* JSON: the window of a VM: configuration, kernel-side device counts, per-vCPU stats. */
static void json_window(FILE *f, const struct vm *vm)
{
	fputs(",\"window\":{\"iterations\":", f);
	if (phase_target[PHASE_WINDOW] == RUN_FOREVER)
		fputs("null", f);
	else
		fprintf(f, "%" PRIu64, phase_target[PHASE_WINDOW]);
	fprintf(f, ",\"elapsed_ns\":%" PRIu64 ",\"guest_irqs\":%" PRIu32
		",\"coalesced_entries\":%" PRIu64 ",\"ioeventfd_signals\":[",
		window_ns, vm->irqs_snap[SNAP_END] - vm->irqs_snap[SNAP_START],
		vm->coalesced_snap[SNAP_END] - vm->coalesced_snap[SNAP_START]);
	for (int e = 0; e < NR_IOEV; e++) {
		fprintf(f, "%s{\"bus\":\"%s\",\"addr\":", e ? "," : "", ioev_defs[e].bus);
		json_hex(f, ioev_defs[e].addr);
		fprintf(f, ",\"count\":%" PRIu64 "}",
			vm->signals_snap[SNAP_END][e] - vm->signals_snap[SNAP_START][e]);
	}
	fputs("],\"vcpus\":[", f);
	for (int j = 0; j < vm->nvcpus; j++) {
		const struct vcpu *v = &vm->vcpus[j];

		fprintf(f, "%s{\"vcpu_id\":%d,\"vcpu_fd\":%d,", j ? "," : "", v->id, v->fd);
		json_counters(f, &v->cnt_snap[SNAP_END], &v->cnt_snap[SNAP_START]);
		fputs(",\"start\":", f);
		json_stats(f, v, SNAP_START, -1);
		fputs(",\"end\":", f);
		json_stats(f, v, SNAP_END, -1);
		fputs(",\"delta\":", f);
		json_stats(f, v, SNAP_END, SNAP_START);
		fputc('}', f);
	}
	fputc(']', f);
	if (vm->ndbg) {
		/* no per-vCPU stats on this kernel: the VM's sums, from debugfs */
		fputs(",\"stats_source\":\"debugfs\",\"vm_start\":", f);
		json_dbg_stats(f, vm, SNAP_START, -1);
		fputs(",\"vm_end\":", f);
		json_dbg_stats(f, vm, SNAP_END, -1);
		fputs(",\"vm_delta\":", f);
		json_dbg_stats(f, vm, SNAP_END, SNAP_START);
	} else {
		fputs(",\"stats_source\":\"binary_stats_fd\"", f);
	}
	fputc('}', f);
}

/* JSON: final cumulative stats of a VM's vCPUs. */
static void json_final(FILE *f, const struct vm *vm)
{
	fprintf(f, ",\"final\":{\"guest_irqs\":%" PRIu32 ",\"coalesced_entries\":%" PRIu64
		",\"vcpus\":[", vm->irqs_snap[SNAP_FINAL], vm->coalesced_snap[SNAP_FINAL]);
	for (int j = 0; j < vm->nvcpus; j++) {
		const struct vcpu *v = &vm->vcpus[j];

		fprintf(f, "%s{\"vcpu_id\":%d,\"vcpu_fd\":%d,", j ? "," : "", v->id, v->fd);
		json_counters(f, &v->cnt_snap[SNAP_FINAL], NULL);
		fputs(",\"stats\":", f);
		json_stats(f, v, SNAP_FINAL, -1);
		fputc('}', f);
	}
	fputc(']', f);
	if (vm->ndbg) {
		fputs(",\"vm_stats\":", f);
		json_dbg_stats(f, vm, SNAP_FINAL, -1);
	}
	fputc('}', f);
}

/* Build the whole JSON document; `final` adds the final part. Caller frees. */
static char *json_document(const char *state, bool window, bool final, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		die("open_memstream: %s", strerror(errno));
	fprintf(f, "{\"pid\":%d,\"mode\":\"%s\",\"state\":\"%s\",\"config\":{\"vms\":%d,"
		"\"vcpus\":%d,\"iterations\":%" PRIu64 ",\"warmup\":%" PRIu64 ",\"after\":%"
		PRIu64 ",\"seconds\":", (int)getpid(), opt.window ? "window" : "run", state,
		opt.vms, opt.vcpus, opt.iterations, opt.warmup, opt.window ? opt.after : 0);
	if (opt.seconds_set)
		fprintf(f, "%g", opt.seconds);
	else
		fputs("null", f);
	fprintf(f, ",\"outs_per_iteration\":%d,\"user_mmio_per_iteration\":1,"
		"\"hlt_every\":%d,\"pit_hz\":%d},\"vms\":[", OUTS_PER_ITERATION, HLT_EVERY,
		PIT_HZ);
	for (int i = 0; i < opt.vms; i++) {
		const struct vm *vm = &vms[i];

		fprintf(f, "%s{\"index\":%d,\"vm_fd\":%d,\"vcpus\":%d,", i ? "," : "", vm->index,
			vm->fd, vm->nvcpus);
		json_devices(f, vm);
		if (window)
			json_window(f, vm);
		if (final)
			json_final(f, vm);
		fputc('}', f);
	}
	fputs("]}\n", f);
	if (fclose(f))
		die("building JSON: %s", strerror(errno));
	return buf;
}

/* Write the JSON document to --json FILE (atomically) or stdout. */
static int output_json(const char *state, bool window, bool final)
{
	size_t len;
	char *doc = json_document(state, window, final, &len);
	int r;

	if (!opt.json || !strcmp(opt.json, "-")) {
		r = write_all(STDOUT_FILENO, doc, len);
		if (r < 0)
			err("stdout: %s", strerror(errno));
	} else {
		r = write_file_atomic(opt.json, doc, len);
	}
	free(doc);
	return r;
}

/* One-line summary of the window on stderr: iterations/s and exits/s. */
static void print_summary(void)
{
	uint64_t iters = 0, exits = 0;
	double s = (double)window_ns / 1e9;

	if (opt.quiet)
		return;
	for (int i = 0; i < opt.vms; i++) {
		for (int j = 0; j < vms[i].nvcpus; j++) {
			const struct vcpu *v = &vms[i].vcpus[j];

			iters += v->cnt_snap[SNAP_END].iterations -
				 v->cnt_snap[SNAP_START].iterations;
			for (uint32_t d = 0; d < v->nstats; d++)
				if (!strcmp(v->stats[d].name, "exits"))
					exits += v->snap[SNAP_END][v->stats[d].index] -
						 v->snap[SNAP_START][v->stats[d].index];
		}
		for (int d = 0; d < vms[i].ndbg; d++)
			if (!strcmp(vms[i].dbg_names[d], "exits"))
				exits += vms[i].dbg_snap[SNAP_END][d] - vms[i].dbg_snap[SNAP_START][d];
	}
	fprintf(stderr, "workload: window: %" PRIu64 " iterations, %" PRIu64 " exits in %.3f s"
		" (%.0f iterations/s, %.0f exits/s, %d vCPUs)\n", iters, exits, s,
		s > 0 ? (double)iters / s : 0, s > 0 ? (double)exits / s : 0, total_vcpus);
}

/* After a timeout: print the interrupt path state of every VM to stderr (vCPUs stopped). */
static void dump_irq_state(void)
{
	for (int i = 0; i < opt.vms; i++) {
		struct vm *vm = &vms[i];
		struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
		struct kvm_pit_state2 pit;

		if (ioctl(vm->fd, KVM_GET_IRQCHIP, &chip) == 0)
			err("vm %d: pic master irr 0x%02x imr 0x%02x isr 0x%02x last_irr 0x%02x"
			    " guest_irqs %u", i, chip.chip.pic.irr, chip.chip.pic.imr,
			    chip.chip.pic.isr, chip.chip.pic.last_irr,
			    *(uint32_t *)(vm->mem + GUEST_IRQ_COUNT));
		if (ioctl(vm->fd, KVM_GET_PIT2, &pit) == 0)
			err("vm %d: pit ch0 mode %u count %u gate %u flags 0x%x", i,
			    pit.channels[0].mode, pit.channels[0].count, pit.channels[0].gate,
			    pit.flags);
		for (int j = 0; j < vm->nvcpus; j++) {
			struct vcpu *v = &vm->vcpus[j];
			struct kvm_vcpu_events ev;
			struct kvm_mp_state mp;
			struct kvm_regs regs;

			if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) == 0 &&
			    ioctl(v->fd, KVM_GET_MP_STATE, &mp) == 0 &&
			    ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
				err("vm %d vcpu %d: mp_state %u rip 0x%llx rflags 0x%llx"
				    " irq injected %u nr %u shadow %u", i, j, mp.mp_state,
				    regs.rip, regs.rflags, ev.interrupt.injected, ev.interrupt.nr,
				    ev.interrupt.shadow);
		}
	}
}

/* Clean up after a stop by signal or a failure; exits. */
static void finish_abnormally(int w)
{
	stop_threads();
	if (w == WAIT_FAILED) {
		err("%s", ctl.error);
		write_state("{\"state\":\"error\",\"message\":\"vCPU failure\"}");
		exit(1);
	}
	if (w == WAIT_TIMEOUT) {
		dump_irq_state();
		write_state("{\"state\":\"error\",\"message\":\"timeout\"}");
		exit(1);
	}
	err("stopped by signal %d before the run completed", ctl.stop_signal);
	write_state("{\"state\":\"stopped\"}");
	exit(1);
}

/* Wait for all vCPUs to park after `phases` phases, honouring --timeout. */
static void wait_parked(int phases)
{
	int w = wait_for(phases, 0, opt.timeout > 0 ? opt.timeout : -1);

	if (w == WAIT_TIMEOUT) {
		err("timeout: vCPUs did not finish phase %d within %g s", phases - 1, opt.timeout);
		report_stragglers(phases);
	}
	if (w != WAIT_OK)
		finish_abnormally(w);
}

/* Wait for the next SIGUSR1 after `seen` of them. */
static void wait_usr1(unsigned int seen)
{
	int w = wait_for(0, seen + 1, -1);

	if (w != WAIT_OK)
		finish_abnormally(w);
}

/* Window mode: warmup, ready, SIGUSR1, exact window, window-done, SIGUSR1, after, done. */
static int run_window(void)
{
	unsigned int seen;
	uint64_t t0;

	wait_parked(1);
	pthread_mutex_lock(&ctl.lock);
	seen = ctl.usr1;
	pthread_mutex_unlock(&ctl.lock);
	if (write_state("{\"state\":\"ready\",\"pid\":%d}", (int)getpid()) < 0)
		finish_abnormally(WAIT_FAILED);
	wait_usr1(seen);

	align_hlt();
	snapshot(SNAP_START);
	t0 = now_ns();
	release_phase(PHASE_WINDOW);
	wait_parked(2);
	window_ns = now_ns() - t0;
	snapshot(SNAP_END);
	pthread_mutex_lock(&ctl.lock);
	seen = ctl.usr1;
	pthread_mutex_unlock(&ctl.lock);
	if (opt.json && strcmp(opt.json, "-") && output_json("window-done", true, false) < 0)
		finish_abnormally(WAIT_FAILED);
	if (write_state("{\"state\":\"window-done\"}") < 0)
		finish_abnormally(WAIT_FAILED);
	print_summary();
	wait_usr1(seen);

	release_phase(PHASE_AFTER);
	wait_parked(3);
	snapshot(SNAP_FINAL);
	stop_threads();
	if (output_json("done", true, true) < 0)
		return 1;
	write_state("{\"state\":\"done\"}");
	return 0;
}

/* Run mode: warmup, then --iterations or --seconds, then print the JSON. */
static int run_plain(void)
{
	uint64_t t0;
	int w;

	wait_parked(1);
	write_state("{\"state\":\"running\",\"pid\":%d}", (int)getpid());
	align_hlt();
	snapshot(SNAP_START);
	t0 = now_ns();
	release_phase(PHASE_WINDOW);
	if (!opt.seconds_set) {
		wait_parked(2);
	} else {
		w = wait_for(2, 0, opt.seconds > 0 ? opt.seconds : -1);
		if (w == WAIT_FAILED)
			finish_abnormally(w);
		/* end of time, or a signal: both end the run normally */
	}
	stop_threads();
	window_ns = now_ns() - t0;
	snapshot(SNAP_END);
	snapshot(SNAP_FINAL);
	print_summary();
	if (output_json("done", true, true) < 0)
		return 1;
	write_state("{\"state\":\"done\"}");
	return 0;
}

/* Check a KVM capability that the workload needs. */
static void need_cap(int cap, const char *name)
{
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap) <= 0)
		die("KVM lacks %s", name);
}

/* ---- --nested: an L1 guest that runs its own L2 (nested.S) ------------------------------ */

/* Guest memory layout of --nested; keep in step with nested.S. */
#define NESTED_MEM_SIZE		0x20000
#define NESTED_LOAD		0x1000
#define NESTED_ROUNDS_ADDR	0x0500
#define NESTED_PD		0x7000
#define NESTED_L1_RSP		0x9000
#define NESTED_L2_RSP		0x9ff0
#define NESTED_VMCB		0xa000
#define NESTED_HSAVE		0xb000
#define NESTED_IOPM		0xc000
#define NESTED_MSRPM		0x10000
#define NESTED_PORT_SETUP	0x510
#define NESTED_PORT_EXIT	0x514
#define NESTED_PORT_FAIL	0x518
#define NESTED_PORT_L2		0x520
#define NESTED_PORT_PARK	0x524
#define NESTED_L2_BYTE		0x5a
#define NESTED_MAX_CPUID	256
#define MSR_VM_HSAVE_PA		0xc0010117
#define SVM_EXIT_IOIO		0x7b
#define SVM_EXIT_VMMCALL	0x81
#define VMX_EXIT_IO		30
#define VMX_EXIT_VMCALL		18

#define NESTED_VMX_PTRS		0x0600	/* L1's u64 VMXON region and VMCS addresses */
#define NESTED_VMX_MAX_WRITES	256
#define MSR_IA32_VMX_BASIC	0x480

extern const uint8_t nested_code[], nested_code_end[], nested_svm_l1[], nested_vmx_l1[],
	nested_vmx_table[];

/* What the --nested run saw: the L1's structure as it wrote it, and KVM's view at the park. */
static struct {
	bool svm;
	int vm_fd, vcpu_fd;
	uint8_t *mem;
	struct kvm_run *run;
	uint64_t setup_gpa;		/* vmcb12 / vmcs12 address L1 reported */
	uint8_t written[4096];		/* that page as L1 had written it at set-up */
	bool have_written;
	uint64_t hsave_pa;		/* KVM_GET_MSRS MSR_VM_HSAVE_PA at the park (SVM) */
	uint64_t vmx_basic;		/* KVM_GET_MSRS IA32_VMX_BASIC at the park (VMX) */
	uint64_t vmxon_gpa;		/* the VMXON operand L1 wrote (VMX) */
	uint32_t vmx_writes[NESTED_VMX_MAX_WRITES][2];	/* L1's VMWRITEs: encoding, value */
	int nvmx_writes;
	uint64_t exits_io, exits_call;	/* exits from L2 that L1 handled and reported */
	uint64_t parked_port;
	uint64_t l2_rip, l2_rsp;	/* KVM_GET_REGS at the park: L2's registers */
	bool nested_state_ok;		/* KVM_GET_NESTED_STATE at the park */
	uint32_t ns_flags;
	uint64_t ns_vmcb_pa;		/* its hdr.svm.vmcb_pa / hdr.vmx.vmcs12_pa */
	uint8_t ns_control[256];	/* SVM: its vmcb12 control area (KVM's cached copy) */
} nst;

static uint64_t le_at(const uint8_t *p, int size)
{
	uint64_t v = 0;

	memcpy(&v, p, (size_t)size);
	return v;
}

/* Give the vCPU every CPUID leaf KVM supports, so L1 sees SVM or VMX; returns true for SVM. */
static bool nested_cpuid(int vcpu_fd)
{
	size_t sz = sizeof(struct kvm_cpuid2) + NESTED_MAX_CPUID * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	bool svm = false, vmx = false;

	if (!c)
		die("out of memory");
	c->nent = NESTED_MAX_CPUID;
	xioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c, "KVM_GET_SUPPORTED_CPUID");
	for (uint32_t i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 1)
			vmx = c->entries[i].ecx & (1u << 5);
		if (c->entries[i].function == 0x80000001)
			svm = c->entries[i].ecx & (1u << 2);
	}
	xioctl(vcpu_fd, KVM_SET_CPUID2, c, "KVM_SET_CPUID2");
	free(c);
	if (!svm && !vmx)
		die("--nested: KVM offers neither SVM nor VMX to its guests (load kvm_amd or "
		    "kvm_intel with nested=1)");
	return svm;
}

/* One flat 32-bit segment for KVM_SET_SREGS. */
static struct kvm_segment flat_seg(uint16_t selector, uint8_t type)
{
	return (struct kvm_segment){ .base = 0, .limit = 0xffffffff, .selector = selector,
				     .type = type, .present = 1, .dpl = 0, .db = 1, .s = 1,
				     .l = 0, .g = 1 };
}

/* Create the --nested VM: memory, irqchip, one vCPU in 32-bit paged protected mode. */
static void nested_create(uint32_t rounds)
{
	size_t code_len = (size_t)(nested_code_end - nested_code);
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	uint32_t pde = 0x83; /* present, writable, 4 MiB page at 0 */
	int mmap_size;

	nst.vm_fd = xioctl(kvm_fd, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	nst.mem = mmap(NULL, NESTED_MEM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (nst.mem == MAP_FAILED)
		die("mmap of guest memory: %s", strerror(errno));
	if (NESTED_LOAD + code_len > NESTED_PD)
		die("nested guest code too large");
	memcpy(nst.mem + NESTED_LOAD, nested_code, code_len);
	memcpy(nst.mem + NESTED_PD, &pde, sizeof(pde));
	memcpy(nst.mem + NESTED_ROUNDS_ADDR, &rounds, sizeof(rounds));
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = NESTED_MEM_SIZE,
		.userspace_addr = (uintptr_t)nst.mem,
	};
	xioctl(nst.vm_fd, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
	xioctl(nst.vm_fd, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP");

	nst.vcpu_fd = xioctl(nst.vm_fd, KVM_CREATE_VCPU, (void *)0L, "KVM_CREATE_VCPU");
	mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run))
		die("KVM_GET_VCPU_MMAP_SIZE: %s", mmap_size < 0 ? strerror(errno) : "too small");
	nst.run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, nst.vcpu_fd,
		       0);
	if (nst.run == MAP_FAILED)
		die("mmap of the vCPU run area: %s", strerror(errno));
	nst.svm = nested_cpuid(nst.vcpu_fd);

	xioctl(nst.vcpu_fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	sregs.cs = flat_seg(0x08, 0xb);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_seg(0x10, 0x3);
	sregs.cr0 = 0x80000031; /* PG, NE, ET, PE */
	sregs.cr3 = NESTED_PD;
	sregs.cr4 = 0x10; /* PSE */
	sregs.efer = 0;
	xioctl(nst.vcpu_fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = NESTED_LOAD +
		   (uint64_t)((nst.svm ? nested_svm_l1 : nested_vmx_l1) - nested_code);
	regs.rsp = NESTED_L1_RSP;
	xioctl(nst.vcpu_fd, KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

/* At the park: KVM's own view of the nested state and L1's host save area MSR. */
static void nested_kvm_view(void)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} msrs = { .hdr = { .nmsrs = 1 },
		   .e = { .index = nst.svm ? MSR_VM_HSAVE_PA : MSR_IA32_VMX_BASIC } };
	int size = ioctl(nst.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);

	struct kvm_regs regs;

	if (ioctl(nst.vcpu_fd, KVM_GET_REGS, &regs) == 0) {
		nst.l2_rip = regs.rip;
		nst.l2_rsp = regs.rsp;
	}
	if (ioctl(nst.vcpu_fd, KVM_GET_MSRS, &msrs) == 1)
		*(nst.svm ? &nst.hsave_pa : &nst.vmx_basic) = msrs.e.data;
	if (size < (int)sizeof(struct kvm_nested_state))
		return;
	struct kvm_nested_state *ns = calloc(1, (size_t)size);
	if (!ns)
		die("out of memory");
	ns->size = (uint32_t)size;
	if (ioctl(nst.vcpu_fd, KVM_GET_NESTED_STATE, ns) == 0) {
		nst.nested_state_ok = true;
		nst.ns_flags = ns->flags;
		if (ns->format == KVM_STATE_NESTED_FORMAT_SVM) {
			nst.ns_vmcb_pa = ns->hdr.svm.vmcb_pa;
			if (ns->size >= sizeof(*ns) + sizeof(nst.ns_control))
				memcpy(nst.ns_control, ns->data.svm[0].vmcb12,
				       sizeof(nst.ns_control));
		} else {
			nst.ns_vmcb_pa = ns->hdr.vmx.vmcs12_pa;
		}
	} else {
		err("KVM_GET_NESTED_STATE: %s", strerror(errno));
	}
	free(ns);
}

/* The SVM fields of a VMCB page (AMD APM vol. 2, appendix B), as JSON members. */
static void json_vmcb_fields(FILE *f, const uint8_t *p, bool with_save)
{
	fputs("\"intercepts\":[", f);
	for (int w = 0; w < 6; w++) {
		fputs(w ? "," : "", f);
		json_hex(f, le_at(p + 4 * w, 4));
	}
	fputs("],\"iopm_base_pa\":", f);
	json_hex(f, le_at(p + 0x40, 8));
	fputs(",\"msrpm_base_pa\":", f);
	json_hex(f, le_at(p + 0x48, 8));
	fprintf(f, ",\"asid\":%u,\"tlb_ctl\":%u,\"nested_ctl\":", (unsigned)le_at(p + 0x58, 4),
		(unsigned)p[0x5c]);
	json_hex(f, le_at(p + 0x90, 8));
	if (!with_save)
		return;
	static const struct {
		const char *name;
		int off, size;
	} s[] = {
		{ "cs_selector", 0x410, 2 }, { "cs_attrib", 0x412, 2 }, { "cs_limit", 0x414, 4 },
		{ "cs_base", 0x418, 8 }, { "ss_selector", 0x420, 2 }, { "efer", 0x4d0, 8 },
		{ "cr4", 0x548, 8 }, { "cr3", 0x550, 8 }, { "cr0", 0x558, 8 },
		{ "dr7", 0x560, 8 }, { "dr6", 0x568, 8 }, { "rflags", 0x570, 8 },
		{ "rip", 0x578, 8 }, { "rsp", 0x5d8, 8 },
	};
	fputs(",\"save\":{", f);
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		fprintf(f, "%s\"%s\":", i ? "," : "", s[i].name);
		json_hex(f, le_at(p + s[i].off, s[i].size));
	}
	fputc('}', f);
}

static int nested_output(const char *state)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (!f)
		die("open_memstream: %s", strerror(errno));
	fprintf(f, "{\"pid\":%d,\"mode\":\"nested\",\"state\":\"%s\",\"vendor\":\"%s\","
		"\"vcpu_id\":0,\"nested\":{\"l1_vmcb_gpa\":", (int)getpid(), state,
		nst.svm ? "svm" : "vmx");
	json_hex(f, nst.setup_gpa);
	fprintf(f, ",\"l2_io_port\":\"0x%x\",\"l2_io_byte\":\"0x%x\",\"park_port\":\"0x%x\","
		"\"l2_io_exits\":%" PRIu64 ",\"l2_call_exits\":%" PRIu64 ",\"parked_on_port\":",
		NESTED_PORT_L2, NESTED_L2_BYTE, NESTED_PORT_PARK, nst.exits_io, nst.exits_call);
	json_hex(f, nst.parked_port);
	fputs(",\"l2_regs\":{\"rip\":", f);
	json_hex(f, nst.l2_rip);
	fputs(",\"rsp\":", f);
	json_hex(f, nst.l2_rsp);
	fputc('}', f);
	if (nst.svm) {
		fputs(",\"hsave_pa\":", f);
		json_hex(f, nst.hsave_pa);
		fputs(",\"vmcb12_written\":{", f);
		if (nst.have_written)
			json_vmcb_fields(f, nst.written, true);
		fputc('}', f);
	} else {
		fputs(",\"vmxon_gpa\":", f);
		json_hex(f, nst.vmxon_gpa);
		fputs(",\"vmcs_revision_written\":", f);
		json_hex(f, nst.have_written ? le_at(nst.written, 4) : 0);
		fputs(",\"vmx_basic\":", f);
		json_hex(f, nst.vmx_basic);
		fputs(",\"vmcs12_written\":[", f);
		for (int i = 0; i < nst.nvmx_writes; i++) {
			fprintf(f, "%s{\"encoding\":\"0x%x\",\"value\":", i ? "," : "",
				nst.vmx_writes[i][0]);
			json_hex(f, nst.vmx_writes[i][1]);
			fputc('}', f);
		}
		fputc(']', f);
	}
	fprintf(f, ",\"kvm_nested_state\":");
	if (nst.nested_state_ok) {
		fprintf(f, "{\"flags\":\"0x%x\",\"guest_mode\":%s,\"vmcb12_pa\":", nst.ns_flags,
			nst.ns_flags & KVM_STATE_NESTED_GUEST_MODE ? "true" : "false");
		json_hex(f, nst.ns_vmcb_pa);
		if (nst.svm) {
			fputs(",\"control\":{", f);
			json_vmcb_fields(f, nst.ns_control, false);
			fputc('}', f);
		}
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	fputs("}}\n", f);
	if (fclose(f))
		die("building JSON: %s", strerror(errno));
	if (!opt.json || !strcmp(opt.json, "-")) {
		fputs(buf, stdout);
		fflush(stdout);
		r = 0;
	} else {
		r = write_file_atomic(opt.json, buf, len);
	}
	free(buf);
	return r;
}

/*
 * VMX, at L1's set-up report: the (encoding, value) table L1 has just written into its VMCS
 * with VMWRITE (nested.S), read back from guest memory, and L1's VMXON operand.
 */
static void nested_vmx_writes(void)
{
	size_t off = NESTED_LOAD + (size_t)(nested_vmx_table - nested_code);

	nst.vmxon_gpa = le_at(nst.mem + NESTED_VMX_PTRS, 8);
	nst.nvmx_writes = 0;
	while (off + 8 <= NESTED_MEM_SIZE && nst.nvmx_writes < NESTED_VMX_MAX_WRITES) {
		uint32_t enc = (uint32_t)le_at(nst.mem + off, 4);

		if (enc == UINT32_MAX)
			break;
		nst.vmx_writes[nst.nvmx_writes][0] = enc;
		nst.vmx_writes[nst.nvmx_writes++][1] = (uint32_t)le_at(nst.mem + off + 4, 4);
		off += 8;
	}
}

static const char *const nested_fail_what[] = {
	[1] = "an exit from L2 that L1 does not expect",
	[2] = "a VMX instruction failed in L1",
	[3] = "VMX is not usable in L1 (IA32_FEATURE_CONTROL locked without VMXON)",
};

/*
 * --nested: run L1 until its L2 parks on the port L1 does not intercept, write the JSON and
 * the state "parked", then keep the vCPU out of KVM_RUN (still in guest mode) until a
 * SIGTERM/SIGINT/SIGHUP. Exit status 0 after such a signal, 1 on any failure.
 */
static int run_nested(void)
{
	struct kvm_run *run = nst.run;
	uint64_t t0 = now_ns();

	for (;;) {
		if (atomic_load(&stop_requested)) {
			err("stopped by signal before L2 parked");
			return 1;
		}
		if (opt.timeout > 0 && (double)(now_ns() - t0) / 1e9 > opt.timeout) {
			err("--nested: L2 did not park within %g s (%" PRIu64 " OUT and %" PRIu64
			    " calls from L2 so far)", opt.timeout, nst.exits_io, nst.exits_call);
			return 1;
		}
		if (ioctl(nst.vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN: %s", strerror(errno));
		}
		if (run->exit_reason != KVM_EXIT_IO) {
			err("--nested: unexpected exit reason %u from L1 (rip unknown); see "
			    "dmesg", run->exit_reason);
			return 1;
		}
		const uint8_t *data = (const uint8_t *)run + run->io.data_offset;
		uint64_t val = le_at(data, run->io.size > 8 ? 8 : run->io.size);
		if (run->io.direction != KVM_EXIT_IO_OUT) {
			err("--nested: unexpected IN from port 0x%x", run->io.port);
			return 1;
		}
		switch (run->io.port) {
		case NESTED_PORT_SETUP:
			nst.setup_gpa = val;
			if (val <= NESTED_MEM_SIZE - sizeof(nst.written)) {
				memcpy(nst.written, nst.mem + val, sizeof(nst.written));
				nst.have_written = true;
			}
			if (!nst.svm)
				nested_vmx_writes();
			break;
		case NESTED_PORT_EXIT:
			if (val == (nst.svm ? SVM_EXIT_IOIO : VMX_EXIT_IO)) {
				nst.exits_io++;
			} else if (val == (nst.svm ? SVM_EXIT_VMMCALL : VMX_EXIT_VMCALL)) {
				nst.exits_call++;
			}
			break;
		case NESTED_PORT_FAIL: {
			struct kvm_regs regs;
			uint64_t rcx = 0, rdi = 0;

			if (ioctl(nst.vcpu_fd, KVM_GET_REGS, &regs) == 0) {
				rcx = regs.rcx;
				rdi = regs.rdi;
			}
			err("--nested: L1 reports failure %" PRIu64 " (%s), detail 0x%" PRIx64
			    " (VMX: step << 16 | VM-instruction error; edi 0x%" PRIx64 ")", val,
			    val < 4 && nested_fail_what[val] ? nested_fail_what[val] : "?", rcx, rdi);
			return 1;
		}
		case NESTED_PORT_PARK:
			nst.parked_port = run->io.port;
			nested_kvm_view();
			if (nested_output("parked") < 0)
				return 1;
			if (write_state("{\"state\":\"parked\"}") < 0)
				return 1;
			if (!opt.quiet)
				fprintf(stderr, "workload: --nested (%s): L2 parked after %" PRIu64
					" OUT and %" PRIu64 " calls handled by L1\n",
					nst.svm ? "svm" : "vmx", nst.exits_io, nst.exits_call);
			pthread_mutex_lock(&ctl.lock);
			while (!ctl.stop_signal)
				pthread_cond_wait(&ctl.cond, &ctl.lock);
			pthread_mutex_unlock(&ctl.lock);
			return 0;
		default:
			err("--nested: unexpected OUT to port 0x%x from L1", run->io.port);
			return 1;
		}
	}
}

/* Print usage to f. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: workload [options]\n"
		"A small VMM on /dev/kvm for the libkvmdci lab: real-mode guests whose\n"
		"loop exits to KVM in a known pattern; prints KVM's per-vCPU binary stats\n"
		"as JSON.\n"
		"\n"
		"  --vms N         VMs in this process (default 1, at most %d)\n"
		"  --vcpus N       vCPUs per VM (default 1, at most %d)\n"
		"  --iterations N  guest loop iterations per vCPU in the window\n"
		"                  (default 2000)\n"
		"  --seconds S     run the window for S seconds instead (0: until\n"
		"                  SIGTERM/SIGINT); not with --window\n"
		"  --warmup N      iterations per vCPU before the window (default 200)\n"
		"  --after N       iterations per vCPU after the window (--window;\n"
		"                  default 1000)\n"
		"  --window        marked window: after the warmup, park the vCPUs\n"
		"                  outside KVM_RUN, write the pid file and\n"
		"                  {\"state\":\"ready\",\"pid\":N} to the state file and wait\n"
		"                  for SIGUSR1; then snapshot the stats, run --iterations,\n"
		"                  park, snapshot, write --json FILE and\n"
		"                  {\"state\":\"window-done\"}; wait for SIGUSR1, run --after\n"
		"                  iterations, write the final JSON and {\"state\":\"done\"}\n"
		"  --json FILE     write the JSON document to FILE (via FILE.tmp and\n"
		"                  rename); default stdout (with --window: only at the end)\n"
		"  --state FILE    state file (default " STATE_FILE ")\n"
		"  --pid-file FILE pid file (default " PID_FILE ")\n"
		"  --timeout S     fail (exit 1) if the vCPUs need more than S seconds\n"
		"                  for a phase (default 0: no limit)\n"
		"  --quiet         no summary line on stderr\n"
		"  --ioeventfds N  VM 0 also registers N PIO ioeventfds (0 to 1000): port\n"
		"                  0x1000 + 4 * i, length 4, datamatch i (listed in \"devices\")\n"
		"  --nested        one VM whose vCPU runs an L1 guest that is itself a\n"
		"                  hypervisor (SVM or VMX, as KVM offers): it runs an L2\n"
		"                  that does OUT 0x520 and VMMCALL/VMCALL, handled by L1,\n"
		"                  --rounds times (default 50), then an OUT to 0x524 that\n"
		"                  L1 does not intercept; the VMM parks the vCPU there (L2\n"
		"                  active), writes the JSON (what L1 wrote into its\n"
		"                  vmcb12/vmcs12, KVM_GET_NESTED_STATE) and the state\n"
		"                  {\"state\":\"parked\"}, and waits for SIGTERM\n"
		"  --rounds N      L2 rounds before the park (--nested)\n"
		"  --spin          every vCPU reports set-up done, then loops in the\n"
		"                  guest (interrupts masked; one exit KVM handles in\n"
		"                  the kernel, out 0x700, every 2^18 iterations) until\n"
		"                  the end: a CPU stopped then is in the guest; implies\n"
		"                  --warmup 0, use with --seconds\n"
		"  --help          this text\n"
		"\n"
		"Guest loop, per iteration: out 0x700 (ioeventfd), out 0x704 (ioeventfd,\n"
		"datamatch 0x1234), MMIO write to 0xa0000 (ioeventfd), to 0xa1000+id\n"
		"(coalesced zone), to 0xa2000 (exit to user space), out 0x3f8 (exit to\n"
		"user space; ends the iteration). vCPU 0 also runs sti; hlt every %d\n"
		"iterations, woken by the periodic PIT (~%d Hz, PIC IRQ0); its handler\n"
		"sends an EOI (out 0x20) per interrupt (guest_irqs in the JSON).\n"
		"Exit status: 0 done, 1 error or stopped early, 2 bad usage.\n",
		MAX_VMS, MAX_VCPUS, HLT_EVERY, PIT_HZ);
}

/* Parse an unsigned number option; exits 2 on bad input. */
static uint64_t parse_u64(const char *name, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "workload: --%s: expected a number from %" PRIu64 " to %" PRIu64
			", got '%s'\n", name, min, max, s);
		exit(2);
	}
	return v;
}

/* Parse a non-negative number of seconds; exits 2 on bad input. */
static double parse_seconds(const char *name, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 1e7) {
		fprintf(stderr, "workload: --%s: expected seconds >= 0, got '%s'\n", name, s);
		exit(2);
	}
	return v;
}

/* Parse the command line into opt. */
static void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "vms", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "after", required_argument, NULL, 'a' },
		{ "window", no_argument, NULL, 'W' },
		{ "json", required_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 'S' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "ioeventfds", required_argument, NULL, 'E' },
		{ "nested", no_argument, NULL, 'N' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "spin", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			opt.vms = (int)parse_u64("vms", optarg, 1, MAX_VMS);
			break;
		case 'c':
			opt.vcpus = (int)parse_u64("vcpus", optarg, 1, MAX_VCPUS);
			break;
		case 'i':
			opt.iterations = parse_u64("iterations", optarg, 0, UINT64_MAX - 1);
			break;
		case 's':
			opt.seconds = parse_seconds("seconds", optarg);
			opt.seconds_set = true;
			break;
		case 'w':
			opt.warmup = parse_u64("warmup", optarg, 0, UINT64_MAX - 1);
			break;
		case 'a':
			opt.after = parse_u64("after", optarg, 0, UINT64_MAX - 1);
			break;
		case 'W':
			opt.window = true;
			break;
		case 'j':
			opt.json = optarg;
			break;
		case 'S':
			opt.state = optarg;
			break;
		case 'p':
			opt.pid_file = optarg;
			break;
		case 't':
			opt.timeout = parse_seconds("timeout", optarg);
			break;
		case 'E':
			opt.ioeventfds = (int)parse_u64("ioeventfds", optarg, 0, MAX_EXTRA_IOEV);
			break;
		case 'N':
			opt.nested = true;
			break;
		case 'P':
			opt.spin = true;
			break;
		case 'R':
			opt.rounds = (uint32_t)parse_u64("rounds", optarg, 1, 1000000);
			break;
		case 'q':
			opt.quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "workload: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
	if (opt.nested && (opt.window || opt.seconds_set || opt.vms != 1 || opt.vcpus != 1 ||
			   opt.ioeventfds)) {
		fprintf(stderr, "workload: --nested runs one VM with one vCPU; it takes only "
				"--rounds, --json, --state, --pid-file, --timeout and --quiet\n");
		exit(2);
	}
	if (opt.spin && (opt.nested || opt.window || !opt.seconds_set)) {
		fprintf(stderr, "workload: --spin runs until --seconds S (0: until SIGTERM); not "
				"with --window or --nested\n");
		exit(2);
	}
	if (opt.spin)
		opt.warmup = 0; /* the spinning guest never counts an iteration */
	if (opt.window && opt.seconds_set) {
		fprintf(stderr, "workload: --seconds cannot be used with --window\n");
		exit(2);
	}
}

/* Entry point: parse options, set up signals, KVM, VMs and threads, then run. */
int main(int argc, char **argv)
{
	static sigset_t sigs;
	struct sigaction sa;
	pthread_t sig_thread;
	char pid_line[32];
	int r;

	parse_args(argc, argv);
	page_size = sysconf(_SC_PAGESIZE);
	ring_max = (uint32_t)(((size_t)page_size - sizeof(struct kvm_coalesced_mmio_ring)) /
			      sizeof(struct kvm_coalesced_mmio));

	/* SIGUSR2 interrupts KVM_RUN in vCPU threads; all other signals go to the thread */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR2, &sa, NULL) < 0)
		die("sigaction: %s", strerror(errno));
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGUSR2);
	r = pthread_create(&sig_thread, NULL, signal_thread, &sigs);
	if (r)
		die("pthread_create: %s", strerror(r));

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		die("/dev/kvm: %s", strerror(errno));
	r = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION)
		die("KVM API version %d, expected %d", r, KVM_API_VERSION);
	need_cap(KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
	need_cap(KVM_CAP_PIT2, "KVM_CAP_PIT2");
	need_cap(KVM_CAP_REINJECT_CONTROL, "KVM_CAP_REINJECT_CONTROL");
	need_cap(KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD");
	/* KVM_GET_STATS_FD came in Linux 5.14; before it, debugfs has each VM's sums */
	binary_stats = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) > 0;
	r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	if (r != KVM_COALESCED_MMIO_PAGE_OFFSET)
		die("KVM_CAP_COALESCED_MMIO: page offset %d, expected %d", r,
		    KVM_COALESCED_MMIO_PAGE_OFFSET);

	if (opt.nested) {
		nested_create(opt.rounds);
		snprintf(pid_line, sizeof(pid_line), "%d\n", (int)getpid());
		if (write_file_atomic(opt.pid_file, pid_line, strlen(pid_line)) < 0 ||
		    write_state("{\"state\":\"running\"}") < 0)
			return 1;
		return run_nested();
	}
	if (opt.window) {
		nphases = 3;
		phase_target[PHASE_AFTER] = opt.after;
	} else {
		nphases = 2;
	}
	phase_target[PHASE_WARMUP] = opt.warmup;
	phase_target[PHASE_WINDOW] = opt.seconds_set ? RUN_FOREVER : opt.iterations;

	vms = calloc((size_t)opt.vms, sizeof(*vms));
	if (!vms)
		die("out of memory");
	for (int i = 0; i < opt.vms; i++)
		vm_create(&vms[i], i);
	total_vcpus = opt.vms * opt.vcpus;

	snprintf(pid_line, sizeof(pid_line), "%d\n", (int)getpid());
	if (write_file_atomic(opt.pid_file, pid_line, strlen(pid_line)) < 0 && opt.window)
		return 1;
	if (atomic_load(&stop_requested)) {
		err("stopped by signal during set-up");
		return 1;
	}

	start_threads();
	release_phase(PHASE_WARMUP);
	return opt.window ? run_window() : run_plain();
}
