// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvmdci._kvmdci.Trace: catalog entries traced on a live target, as a Python iterator of hits.
 * The library's poll runs with the GIL released, in slices of at most 200 ms; its callback only
 * copies each hit into a C buffer. Between slices pending signals are handled: a
 * KeyboardInterrupt (or any exception a signal handler raises) first stops the tracer, which
 * removes every breakpoint and leaves the target running, then propagates. The same stop runs
 * at the end (count hits, duration elapsed), on close(), at the end of a with block, and when
 * the iterator is freed (a break out of a for loop, garbage collection).
 */
#include "_kvmdci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRACE_SLICE_MS 200
#define MAX_CAPTURES 32
#define COUNT_REACHED (-ECANCELED) /* the callback's answer once count hits are in */

struct hit {
	int entry, cpu, ncaptures;
	uint64_t addr, seq;
	char names[MAX_CAPTURES][48];
	uint64_t values[MAX_CAPTURES];
	int ok[MAX_CAPTURES];
	int kind[MAX_CAPTURES];
};

typedef struct {
	PyObject_HEAD
	KernelObject *kernel;     /* strong reference */
	struct kvmdci_trace *tr;  /* NULL once stopped */
	PyObject *names;          /* tuple of the traced entries' names */
	uint64_t count;           /* 0: no limit */
	uint64_t reported;        /* hits taken by the callback */
	double deadline;          /* CLOCK_MONOTONIC seconds, 0: none */
	struct hit *buf;          /* hits polled, not yet returned */
	size_t nbuf, cap, next;
	bool started, finished, oom;
	PyObject *stats;          /* after the stop: {name: {hits, filtered}} */
	/* another thread may close() the trace while this one polls without the GIL: it asks
	 * for the stop, waits for the poll's slice to end, then stops (see trace_finish()) */
	int polling, stop_requested, stopping;
} TraceObject;

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)

/* Wait, without the GIL, until *flag is 0. */
static void wait_clear(int *flag)
{
	Py_BEGIN_ALLOW_THREADS
	while (__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	Py_END_ALLOW_THREADS
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Called by kvmdci_trace_poll() with the GIL released: no Python here. */
static int on_hit(struct kvmdci_trace *tr, const struct kvmdci_hit *h, void *data)
{
	TraceObject *self = data;

	if (self->nbuf == self->cap) {
		size_t cap = self->cap ? self->cap * 2 : 64;
		struct hit *b = realloc(self->buf, cap * sizeof(*b));
		if (!b) {
			self->oom = true;
			return -ENOMEM;
		}
		self->buf = b;
		self->cap = cap;
	}
	struct hit *o = &self->buf[self->nbuf++];
	o->entry = h->entry;
	o->cpu = h->cpu;
	o->addr = h->addr;
	o->seq = h->seq;
	o->ncaptures = h->ncaptures < MAX_CAPTURES ? h->ncaptures : MAX_CAPTURES;
	for (int i = 0; i < o->ncaptures; i++) {
		snprintf(o->names[i], sizeof(o->names[i]), "%s", h->capture_names[i]);
		o->values[i] = h->values[i];
		o->ok[i] = h->value_ok[i];
		o->kind[i] = h->value_kind ? h->value_kind[i] : KVMDCI_VALUE_UNSIGNED;
	}
	self->reported++;
	if (self->count && self->reported >= self->count)
		return COUNT_REACHED; /* the target stays at this hit; the stop detaches from there */
	return 0;
}

/* Remove the breakpoints and let the target run; keep the per-entry statistics. Safe to call
 * twice. Keeps a pending Python exception as it is. */
static int trace_finish(TraceObject *self)
{
	int r = 0;

	self->finished = true;
	if (LOAD(self->polling)) {
		/* another thread polls: it ends its slice within TRACE_SLICE_MS */
		STORE(self->stop_requested, 1);
		wait_clear(&self->polling);
	}
	if (LOAD(self->stopping)) {
		/* another thread is taking the breakpoints out: return once they are out */
		wait_clear(&self->stopping);
		return 0;
	}
	if (!self->tr)
		return 0;
	struct kvmdci_trace *tr = self->tr;
	self->tr = NULL;
	STORE(self->stopping, 1);
	Py_BEGIN_ALLOW_THREADS
	if (self->started)
		r = kvmdci_trace_stop(tr);
	Py_END_ALLOW_THREADS
	if (self->started && self->kernel)
		self->kernel->detached = true; /* the stop detached: attach again at the next use */
	PyObject *exc_type, *exc_value, *exc_tb;
	PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
	PyObject *stats = PyDict_New();
	Py_ssize_t n = self->names ? PyTuple_GET_SIZE(self->names) : 0;
	for (Py_ssize_t i = 0; stats && i < n; i++) {
		uint64_t hits = 0, filtered = 0;
		kvmdci_trace_entry_stats(tr, (int)i, &hits, &filtered);
		PyObject *e = Py_BuildValue("{s:K, s:K}", "hits", (unsigned long long)hits,
					    "filtered", (unsigned long long)filtered);
		if (!e || PyDict_SetItem(stats, PyTuple_GET_ITEM(self->names, i), e) < 0)
			Py_CLEAR(stats);
		Py_XDECREF(e);
	}
	if (!stats)
		PyErr_Clear();
	Py_XSETREF(self->stats, stats);
	PyErr_Restore(exc_type, exc_value, exc_tb);
	kvmdci_trace_unref(tr);
	if (self->kernel)
		self->kernel->busy = false;
	STORE(self->stopping, 0);
	return r;
}

static PyObject *hit_object(TraceObject *self, const struct hit *h)
{
	PyObject *caps = PyDict_New();
	for (int i = 0; caps && i < h->ncaptures; i++) {
		PyObject *v;
		if (!h->ok[i]) {
			Py_INCREF(Py_None);
			v = Py_None;
		} else if (h->kind[i] == KVMDCI_VALUE_SIGNED) {
			v = PyLong_FromLongLong((long long)h->values[i]);
		} else {
			v = PyLong_FromUnsignedLongLong(h->values[i]);
		}
		if (kd_set(caps, h->names[i], v) < 0)
			Py_CLEAR(caps);
	}
	if (!caps)
		return NULL;
	PyObject *name = h->entry >= 0 && h->entry < PyTuple_GET_SIZE(self->names)
				 ? PyTuple_GET_ITEM(self->names, h->entry) : Py_None;
	return Py_BuildValue("{s:K, s:O, s:i, s:K, s:N}", "seq", (unsigned long long)h->seq,
			     "entry", name, "cpu", h->cpu, "address", (unsigned long long)h->addr,
			     "captures", caps);
}

static PyObject *Trace_next(TraceObject *self)
{
	for (;;) {
		if (self->next < self->nbuf)
			return hit_object(self, &self->buf[self->next++]);
		self->next = self->nbuf = 0;
		if (self->finished || !self->tr || LOAD(self->stop_requested)) {
			trace_finish(self);
			return NULL; /* StopIteration */
		}
		if (self->count && self->reported >= self->count) {
			trace_finish(self);
			continue;
		}
		int ms = TRACE_SLICE_MS;
		if (self->deadline) {
			double left = self->deadline - now_s();
			if (left <= 0) {
				trace_finish(self);
				continue;
			}
			if (left * 1000 < ms)
				ms = (int)(left * 1000) + 1;
		}
		int r;
		struct kvmdci_ctx *ctx = self->kernel->ctx;
		STORE(self->polling, 1);
		Py_BEGIN_ALLOW_THREADS
		r = kvmdci_trace_poll(self->tr, ms, on_hit, self);
		__atomic_store_n(&self->polling, 0, __ATOMIC_SEQ_CST);
		Py_END_ALLOW_THREADS
		if (LOAD(self->stop_requested)) {
			/* close() from another thread: it stops the tracer; hits polled are dropped */
			trace_finish(self);
			self->next = self->nbuf = 0;
			return NULL;
		}
		if (r == COUNT_REACHED) {
			trace_finish(self);
			continue;
		}
		if (r < 0) {
			char msg[512];
			snprintf(msg, sizeof(msg), "%s", self->oom ? "out of memory for the hits" :
				 kvmdci_ctx_last_error(ctx));
			trace_finish(self);
			if (self->oom)
				return PyErr_NoMemory();
			return kd_raise(NULL, r, "trace: %s", msg[0] ? msg : "poll failed");
		}
		/* a signal (SIGINT: KeyboardInterrupt) ends the poll early: clean up, then raise */
		if (PyErr_CheckSignals() < 0) {
			trace_finish(self);
			return NULL;
		}
	}
}

static PyObject *Trace_iter(TraceObject *self)
{
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *Trace_close(TraceObject *self, PyObject *unused)
{
	int r = trace_finish(self);
	if (r < 0)
		return kd_raise(NULL, r, "trace: could not restore the target");
	Py_RETURN_NONE;
}

static PyObject *Trace_enter(TraceObject *self, PyObject *unused)
{
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *Trace_exit(TraceObject *self, PyObject *args)
{
	trace_finish(self);
	Py_RETURN_FALSE;
}

static PyObject *Trace_get_stats(TraceObject *self, void *c)
{
	if (self->stats) {
		Py_INCREF(self->stats);
		return self->stats;
	}
	PyObject *stats = PyDict_New();
	Py_ssize_t n = PyTuple_GET_SIZE(self->names);
	for (Py_ssize_t i = 0; stats && self->tr && i < n; i++) {
		uint64_t hits = 0, filtered = 0;
		kvmdci_trace_entry_stats(self->tr, (int)i, &hits, &filtered);
		PyObject *e = Py_BuildValue("{s:K, s:K}", "hits", (unsigned long long)hits,
					    "filtered", (unsigned long long)filtered);
		if (!e || PyDict_SetItem(stats, PyTuple_GET_ITEM(self->names, i), e) < 0)
			Py_CLEAR(stats);
		Py_XDECREF(e);
	}
	return stats;
}

static PyObject *Trace_get_active(TraceObject *self, void *c)
{
	return PyBool_FromLong(self->tr != NULL);
}

static void Trace_dealloc(TraceObject *self)
{
	trace_finish(self);
	free(self->buf);
	Py_XDECREF(self->names);
	Py_XDECREF(self->stats);
	Py_XDECREF(self->kernel);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Trace_methods[] = {
	{ "close", (PyCFunction)Trace_close, METH_NOARGS,
	  "close()\n--\n\nStop tracing now: remove every breakpoint and let the target run. Hits "
	  "not yet returned are dropped. Safe to call twice." },
	{ "__enter__", (PyCFunction)Trace_enter, METH_NOARGS, "Enter a with block: the trace." },
	{ "__exit__", (PyCFunction)Trace_exit, METH_VARARGS, "Leave a with block: close()." },
	{ NULL },
};

static PyGetSetDef Trace_getset[] = {
	{ "stats", (getter)Trace_get_stats, NULL,
	  "{entry name: {'hits': reported, 'filtered': left out by when}} so far (final after the "
	  "trace ended).", NULL },
	{ "active", (getter)Trace_get_active, NULL,
	  "True while breakpoints are in (before the end, close() or an exception).", NULL },
	{ NULL },
};

PyTypeObject TraceType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "kvmdci.Trace",
	.tp_basicsize = sizeof(TraceObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A running trace of catalog entries, made by Kernel.trace(): an iterator of "
		  "hits (dicts: seq, entry, cpu, address, captures) and a context manager. Its "
		  "breakpoints are removed on every way out.",
	.tp_dealloc = (destructor)Trace_dealloc,
	.tp_iter = (getiterfunc)Trace_iter,
	.tp_iternext = (iternextfunc)Trace_next,
	.tp_methods = Trace_methods,
	.tp_getset = Trace_getset,
};

PyObject *Kernel_trace(KernelObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "entry", "when", "count", "duration", NULL };
	PyObject *entry, *count = Py_None, *duration = Py_None;
	const char *when = NULL;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|zOO:trace", kwlist, &entry, &when, &count,
					 &duration))
		return NULL;
	PyObject *names;
	if (PyUnicode_Check(entry)) {
		names = PyTuple_Pack(1, entry);
	} else {
		names = PySequence_Tuple(entry);
		if (!names) {
			PyErr_SetString(PyExc_TypeError,
					"trace: entry must be a catalog entry name or a list of names");
			return NULL;
		}
	}
	if (!names)
		return NULL;
	Py_ssize_t n = PyTuple_GET_SIZE(names);
	if (n == 0) {
		Py_DECREF(names);
		PyErr_SetString(PyExc_ValueError, "trace: no entry to trace");
		return NULL;
	}
	for (Py_ssize_t i = 0; i < n; i++)
		if (!PyUnicode_Check(PyTuple_GET_ITEM(names, i))) {
			Py_DECREF(names);
			PyErr_SetString(PyExc_TypeError, "trace: entry names must be str");
			return NULL;
		}
	unsigned long long cnt = 0;
	double dur = 0;
	if (count != Py_None) {
		long long c = PyLong_AsLongLong(count);
		if (PyErr_Occurred() || c <= 0) {
			Py_DECREF(names);
			if (!PyErr_Occurred())
				PyErr_SetString(PyExc_ValueError, "trace: count must be >= 1");
			return NULL;
		}
		cnt = (unsigned long long)c;
	}
	if (duration != Py_None) {
		dur = PyFloat_AsDouble(duration);
		if (PyErr_Occurred() || !(dur > 0)) {
			Py_DECREF(names);
			if (!PyErr_Occurred())
				PyErr_SetString(PyExc_ValueError, "trace: duration must be > 0 seconds");
			return NULL;
		}
	}
	if (kernel_ready(self) < 0 || kernel_load_catalog(self) < 0) {
		Py_DECREF(names);
		return NULL;
	}
	if (kvmdci_target_has_run_control(self->target) != 1) {
		Py_DECREF(names);
		return kd_raise(NULL, -EOPNOTSUPP,
				"trace: %s is a read-only target (a dump or /proc/kcore): tracing "
				"needs a live one", self->uri);
	}
	TraceObject *t = PyObject_New(TraceObject, &TraceType);
	if (!t) {
		Py_DECREF(names);
		return NULL;
	}
	memset((char *)t + sizeof(PyObject), 0, sizeof(*t) - sizeof(PyObject));
	Py_INCREF(self);
	t->kernel = self;
	t->names = names;
	t->count = cnt;
	if ((r = kvmdci_trace_new(self->kernel, self->catalog, &t->tr)) < 0) {
		Py_DECREF(t);
		return kd_raise(self->ctx, r, "trace");
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(names, i));
		if (!name) {
			Py_DECREF(t);
			return NULL;
		}
		if ((r = kvmdci_trace_add(t->tr, name, when && when[0] ? when : NULL)) < 0) {
			kd_raise(self->ctx, r, "trace: entry %s", name);
			Py_DECREF(t);
			return NULL;
		}
	}
	Py_BEGIN_ALLOW_THREADS
	r = kvmdci_trace_start(t->tr);
	Py_END_ALLOW_THREADS
	if (r < 0) {
		kd_raise(self->ctx, r, "trace: cannot start");
		t->started = true; /* a partial start: the stop takes out what went in */
		Py_DECREF(t);
		return NULL;
	}
	t->started = true;
	self->busy = true; /* the target runs: the Kernel's other calls wait for the end */
	if (dur > 0)
		t->deadline = now_s() + dur;
	return (PyObject *)t;
}

int kd_types_ready(void)
{
	return PyType_Ready(&TraceType);
}

int kd_types_add(PyObject *m)
{
	Py_INCREF(&TraceType);
	return PyModule_AddObject(m, "Trace", (PyObject *)&TraceType);
}
