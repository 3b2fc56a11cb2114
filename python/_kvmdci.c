// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvmdci._kvmdci: the CPython binding of libkvmdci. A Kernel object owns one library context,
 * one target and its kernel view; every walk is the library's (this file only converts its
 * structs into Python values: ints, strs, dicts with the key names of the tools' --json).
 * Errors become kvmdci.Error (an OSError: errno and the library's one-line message), unreadable
 * memory kvmdci.FaultError with the address. Traces are in trace.c-like code at the end of
 * this file: their breakpoints are removed on every way out (see Trace below).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libkvmdci/libkvmdci.h>

#include "_kvmdci.h"

PyObject *kvmdci_Error;
PyObject *kvmdci_FaultError;

/* ---- errors ------------------------------------------------------------------------------- */

/* Raise Error (or FaultError for -EFAULT) for the library's negative errno @r, with the
 * context's last error, else @what and strerror. Returns NULL. */
PyObject *kd_raise(struct kvmdci_ctx *ctx, int r, const char *what, ...)
{
	char msg[1024];
	const char *last = ctx ? kvmdci_ctx_last_error(ctx) : "";
	int e = r < 0 ? -r : r;

	if (last && last[0]) {
		snprintf(msg, sizeof(msg), "%s", last);
	} else {
		char w[512];
		va_list ap;
		va_start(ap, what);
		vsnprintf(w, sizeof(w), what, ap);
		va_end(ap);
		snprintf(msg, sizeof(msg), "%s: %s", w, strerror(e));
	}
	PyObject *exc = PyObject_CallFunction(e == EFAULT ? kvmdci_FaultError : kvmdci_Error, "is",
					      e, msg);
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* FaultError for @addr. */
PyObject *kd_raise_fault(struct kvmdci_ctx *ctx, int r, uint64_t addr, const char *what)
{
	char msg[1024];
	const char *last = ctx ? kvmdci_ctx_last_error(ctx) : "";

	if (last && last[0])
		snprintf(msg, sizeof(msg), "%s", last);
	else
		snprintf(msg, sizeof(msg), "%s at 0x%llx: %s", what, (unsigned long long)addr,
			 strerror(-r));
	PyObject *exc = PyObject_CallFunction(r == -EFAULT ? kvmdci_FaultError : kvmdci_Error, "is",
					      -r, msg);
	if (!exc)
		return NULL;
	if (r == -EFAULT) {
		PyObject *a = PyLong_FromUnsignedLongLong(addr);
		if (!a || PyObject_SetAttrString(exc, "address", a) < 0) {
			Py_XDECREF(a);
			Py_DECREF(exc);
			return NULL;
		}
		Py_DECREF(a);
	}
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
	return NULL;
}

/* ---- dict helpers ------------------------------------------------------------------------- */

int kd_set(PyObject *d, const char *key, PyObject *v)
{
	if (!v)
		return -1;
	int r = PyDict_SetItemString(d, key, v);
	Py_DECREF(v);
	return r;
}

int kd_set_u64(PyObject *d, const char *key, uint64_t v)
{
	return kd_set(d, key, PyLong_FromUnsignedLongLong(v));
}

int kd_set_i64(PyObject *d, const char *key, int64_t v)
{
	return kd_set(d, key, PyLong_FromLongLong(v));
}

int kd_set_str(PyObject *d, const char *key, const char *s)
{
	if (!s) {
		Py_INCREF(Py_None);
		return kd_set(d, key, Py_None);
	}
	return kd_set(d, key, PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace"));
}

int kd_set_bool(PyObject *d, const char *key, int v)
{
	return kd_set(d, key, PyBool_FromLong(v));
}

int kd_set_none(PyObject *d, const char *key)
{
	Py_INCREF(Py_None);
	return kd_set(d, key, Py_None);
}

/* An "error" key from a partial-read errno (0: none). */
int kd_set_errno(PyObject *d, const char *key, int err)
{
	if (!err)
		return 0;
	return kd_set_str(d, key, strerror(err < 0 ? -err : err));
}

/* ---- logging: the library's messages go to Python's logging ("kvmdci" logger) ------------- */

static void log_fn(struct kvmdci_ctx *ctx, int priority, const char *file, int line,
		   const char *fn, const char *format, va_list args)
{
	char msg[2048];
	int level;

	vsnprintf(msg, sizeof(msg), format, args);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	/* errors become the exceptions' messages: logged at DEBUG only, not twice */
	level = priority <= KVMDCI_LOG_ERR ? 10 : priority <= KVMDCI_LOG_WARNING ? 30 :
		priority <= KVMDCI_LOG_INFO ? 20 : 10;

	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *exc_type, *exc_value, *exc_tb;
	PyErr_Fetch(&exc_type, &exc_value, &exc_tb); /* a pending exception stays pending */
	PyObject *logging = PyImport_ImportModule("logging");
	PyObject *logger = logging ? PyObject_CallMethod(logging, "getLogger", "s", "kvmdci") : NULL;
	PyObject *r = logger ? PyObject_CallMethod(logger, "log", "is", level, msg) : NULL;
	if (!r)
		PyErr_Clear();
	Py_XDECREF(r);
	Py_XDECREF(logger);
	Py_XDECREF(logging);
	PyErr_Restore(exc_type, exc_value, exc_tb);
	PyGILState_Release(g);
}

/* ---- Kernel ------------------------------------------------------------------------------- */

static void kernel_drop(KernelObject *self)
{
	self->unwinder = kvmdci_unwinder_unref(self->unwinder);
	self->catalog = kvmdci_catalog_unref(self->catalog);
	self->kernel = kvmdci_kernel_unref(self->kernel);
	self->target = kvmdci_target_unref(self->target);
}

/* Open (or open again after a trace detached) the target and its kernel view. */
static int kernel_attach(KernelObject *self)
{
	struct kvmdci_kernel_files files = {
		.vmlinux = self->vmlinux, .system_map = self->system_map, .modules = self->modules,
	};
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	int r;

	Py_BEGIN_ALLOW_THREADS
	r = kvmdci_target_open(self->ctx, self->uri, &t);
	if (r >= 0)
		r = kvmdci_kernel_open(t, &files, &k);
	Py_END_ALLOW_THREADS
	if (r < 0) {
		kd_raise(self->ctx, r, "cannot open %s", self->uri);
		kvmdci_target_unref(t);
		return -1;
	}
	self->target = t;
	self->kernel = k;
	self->detached = false;
	return 0;
}

/* Every method that needs the kernel view calls this first. */
int kernel_ready(KernelObject *self)
{
	if (!self->ctx) {
		PyErr_SetString(PyExc_ValueError, "kvmdci.Kernel: operation on a closed Kernel");
		return -1;
	}
	if (self->busy) {
		PyObject *e = PyObject_CallFunction(kvmdci_Error, "is", EBUSY,
						    "kvmdci.Kernel: a trace of this Kernel is running "
						    "(finish or close it first)");
		if (e) {
			PyErr_SetObject(kvmdci_Error, e);
			Py_DECREF(e);
		}
		return -1;
	}
	if (self->detached) {
		/* a trace detached from the target (kvmdci_trace_stop()): attach again */
		kernel_drop(self);
		return kernel_attach(self);
	}
	return 0;
}

static char *dup_opt(PyObject *o, const char *what, int *err)
{
	if (!o || o == Py_None)
		return NULL;
	PyObject *b = NULL;
	if (!PyUnicode_FSConverter(o, &b)) {
		*err = 1;
		return NULL;
	}
	char *s = strdup(PyBytes_AS_STRING(b));
	Py_DECREF(b);
	if (!s) {
		PyErr_NoMemory();
		*err = 1;
	}
	(void)what;
	return s;
}

static void Kernel_dealloc(KernelObject *self)
{
	PyObject_GC_UnTrack(self);
	if (self->busy)
		self->busy = false; /* a Trace holds a reference: it cannot be running here */
	kernel_drop(self);
	self->ctx = kvmdci_ctx_unref(self->ctx);
	free(self->uri);
	free(self->vmlinux);
	free(self->system_map);
	free(self->modules);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Kernel_traverse(KernelObject *self, visitproc visit, void *arg)
{
	return 0;
}

/* open(uri, ...) and _open_as(cls, uri, ...): a Kernel, or an instance of a subclass. */
static PyObject *open_as(PyTypeObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "uri", "vmlinux", "system_map", "modules", NULL };
	const char *uri;
	PyObject *vmlinux = Py_None, *sysmap = Py_None, *mods = Py_None;
	int err = 0, r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|OOO:open", kwlist, &uri, &vmlinux, &sysmap,
					 &mods))
		return NULL;
	if (!uri[0]) {
		PyErr_SetString(PyExc_ValueError, "kvmdci.open: empty target URI (gdb://HOST:PORT, "
						  "gdb+unix:///path, core:///path, ...)");
		return NULL;
	}
	KernelObject *self = (KernelObject *)cls->tp_alloc(cls, 0);
	if (!self)
		return NULL;
	self->uri = strdup(uri);
	self->vmlinux = dup_opt(vmlinux, "vmlinux", &err);
	if (!err)
		self->system_map = dup_opt(sysmap, "system_map", &err);
	if (!err)
		self->modules = dup_opt(mods, "modules", &err);
	if (err || !self->uri) {
		if (!err)
			PyErr_NoMemory();
		Py_DECREF(self);
		return NULL;
	}
	if ((r = kvmdci_ctx_new(&self->ctx)) < 0) {
		Py_DECREF(self);
		return kd_raise(NULL, r, "cannot make a library context");
	}
	kvmdci_ctx_set_log_fn(self->ctx, log_fn, NULL);
	if (!getenv("KVMDCI_LOG"))
		kvmdci_ctx_set_log_priority(self->ctx, KVMDCI_LOG_WARNING);
	if (kernel_attach(self) < 0) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

static PyObject *kd_open(PyObject *module, PyObject *args, PyObject *kw)
{
	return open_as(&KernelType, args, kw);
}

static PyObject *kd_open_as(PyObject *module, PyObject *args, PyObject *kw)
{
	PyObject *cls = args && PyTuple_GET_SIZE(args) ? PyTuple_GET_ITEM(args, 0) : NULL;
	if (!cls || !PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &KernelType)) {
		PyErr_SetString(PyExc_TypeError, "_open_as: the first argument must be a subclass "
						 "of kvmdci._kvmdci.Kernel");
		return NULL;
	}
	PyObject *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
	if (!rest)
		return NULL;
	PyObject *r = open_as((PyTypeObject *)cls, rest, kw);
	Py_DECREF(rest);
	return r;
}

static PyObject *Kernel_close(KernelObject *self, PyObject *unused)
{
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError, "kvmdci.Kernel.close: a trace is running");
		return NULL;
	}
	kernel_drop(self);
	self->ctx = kvmdci_ctx_unref(self->ctx);
	Py_RETURN_NONE;
}

static PyObject *Kernel_enter(KernelObject *self, PyObject *unused)
{
	if (!self->ctx) {
		PyErr_SetString(PyExc_ValueError, "kvmdci.Kernel: operation on a closed Kernel");
		return NULL;
	}
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *Kernel_exit(KernelObject *self, PyObject *args)
{
	PyObject *r = Kernel_close(self, NULL);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

static PyObject *Kernel_read(KernelObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "address", "size", "physical", NULL };
	unsigned long long addr;
	Py_ssize_t size;
	int physical = 0, r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "Kn|p:read", kwlist, &addr, &size, &physical))
		return NULL;
	if (size < 0) {
		PyErr_SetString(PyExc_ValueError, "kvmdci.Kernel.read: size must be >= 0");
		return NULL;
	}
	if (size > (1 << 30)) {
		PyErr_SetString(PyExc_ValueError, "kvmdci.Kernel.read: size above 1 GiB");
		return NULL;
	}
	if (kernel_ready(self) < 0)
		return NULL;
	PyObject *b = PyBytes_FromStringAndSize(NULL, size);
	if (!b)
		return NULL;
	if (size == 0)
		return b;
	if (physical)
		r = kvmdci_target_read_phys(self->target, addr, PyBytes_AS_STRING(b), size);
	else
		r = kvmdci_kernel_read(self->kernel, addr, PyBytes_AS_STRING(b), size);
	if (r < 0) {
		Py_DECREF(b);
		return kd_raise_fault(self->ctx, r, addr,
				      physical ? "cannot read physical memory" :
						 "cannot read kernel memory");
	}
	return b;
}

static PyObject *Kernel_symbol(KernelObject *self, PyObject *args)
{
	const char *name;
	uint64_t addr;
	int r;

	if (!PyArg_ParseTuple(args, "s:symbol", &name))
		return NULL;
	if (kernel_ready(self) < 0)
		return NULL;
	if ((r = kvmdci_kernel_symbol(self->kernel, name, &addr)) < 0)
		return kd_raise(self->ctx, r, "symbol %s", name);
	return PyLong_FromUnsignedLongLong(addr);
}

static PyObject *Kernel_symbolize(KernelObject *self, PyObject *args)
{
	unsigned long long addr;
	char buf[256];

	if (!PyArg_ParseTuple(args, "K:symbolize", &addr))
		return NULL;
	if (kernel_ready(self) < 0)
		return NULL;
	if (kvmdci_kernel_symbolize(self->kernel, addr, buf, sizeof(buf)) < 0)
		Py_RETURN_NONE;
	return PyUnicode_FromString(buf);
}

static PyObject *Kernel_virt_to_phys(KernelObject *self, PyObject *args)
{
	unsigned long long addr;
	uint64_t pa;
	int r;

	if (!PyArg_ParseTuple(args, "K:virt_to_phys", &addr))
		return NULL;
	if (kernel_ready(self) < 0)
		return NULL;
	if ((r = kvmdci_kernel_virt_to_phys(self->kernel, addr, &pa)) < 0)
		return kd_raise_fault(self->ctx, r, addr, "cannot translate");
	return PyLong_FromUnsignedLongLong(pa);
}

static PyObject *Kernel_type_size(KernelObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "type", "module", NULL };
	const char *type, *module = NULL;
	uint64_t size;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|z:type_size", kwlist, &type, &module))
		return NULL;
	if (kernel_ready(self) < 0)
		return NULL;
	if ((r = kvmdci_kernel_type_size(self->kernel, module, type, &size)) < 0)
		return kd_raise(self->ctx, r, "type %s", type);
	return PyLong_FromUnsignedLongLong(size);
}

static PyObject *Kernel_member(KernelObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "type", "path", "module", NULL };
	const char *type, *path, *module = NULL;
	struct kvmdci_member m;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|z:member", kwlist, &type, &path, &module))
		return NULL;
	if (kernel_ready(self) < 0)
		return NULL;
	if ((r = kvmdci_kernel_member(self->kernel, module, type, path, &m)) < 0)
		return kd_raise(self->ctx, r, "%s.%s", type, path);
	PyObject *d = PyDict_New();
	if (!d || kd_set_u64(d, "offset", m.bit_offset / 8) < 0 ||
	    kd_set_u64(d, "bit_offset", m.bit_offset) < 0 ||
	    kd_set_u64(d, "bitfield_size", m.bitfield_size) < 0 ||
	    kd_set_u64(d, "size", m.size) < 0) {
		Py_XDECREF(d);
		return NULL;
	}
	return d;
}

static PyObject *Kernel_modules(KernelObject *self, PyObject *unused)
{
	if (kernel_ready(self) < 0)
		return NULL;
	int n = kvmdci_kernel_module_count(self->kernel);
	PyObject *l = PyList_New(0);
	for (int i = 0; l && i < n; i++) {
		const char *name;
		uint64_t addr;
		if (kvmdci_kernel_module(self->kernel, i, &name, &addr) < 0)
			continue;
		PyObject *d = PyDict_New();
		if (!d || kd_set_str(d, "name", name) < 0 || kd_set_u64(d, "address", addr) < 0 ||
		    PyList_Append(l, d) < 0) {
			Py_XDECREF(d);
			Py_CLEAR(l);
			break;
		}
		Py_DECREF(d);
	}
	return l;
}

/* ---- Kernel properties -------------------------------------------------------------------- */

static PyObject *Kernel_get_kaslr_offset(KernelObject *self, void *c)
{
	if (kernel_ready(self) < 0)
		return NULL;
	return PyLong_FromUnsignedLongLong(kvmdci_kernel_kaslr_offset(self->kernel));
}

static PyObject *Kernel_get_kaslr_source(KernelObject *self, void *c)
{
	if (kernel_ready(self) < 0)
		return NULL;
	return PyUnicode_FromString(kvmdci_kernel_kaslr_source(self->kernel));
}

static PyObject *Kernel_get_release(KernelObject *self, void *c)
{
	if (kernel_ready(self) < 0)
		return NULL;
	return PyUnicode_FromString(kvmdci_kernel_release(self->kernel));
}

static PyObject *Kernel_get_uri(KernelObject *self, void *c)
{
	if (!self->uri)
		Py_RETURN_NONE;
	return PyUnicode_FromString(self->uri);
}

static PyObject *Kernel_get_closed(KernelObject *self, void *c)
{
	return PyBool_FromLong(self->ctx == NULL);
}

static PyObject *Kernel_get_vmcoreinfo(KernelObject *self, void *c)
{
	if (kernel_ready(self) < 0)
		return NULL;
	const char *v = kvmdci_target_vmcoreinfo(self->target);
	if (!v)
		Py_RETURN_NONE;
	return PyBytes_FromString(v);
}

static PyObject *Kernel_get_phys_base(KernelObject *self, void *c)
{
	uint64_t pb;

	if (kernel_ready(self) < 0)
		return NULL;
	if (kvmdci_kernel_phys_base(self->kernel, &pb) < 0)
		Py_RETURN_NONE;
	return PyLong_FromUnsignedLongLong(pb);
}

static PyObject *Kernel_get_cpu_count(KernelObject *self, void *c)
{
	if (kernel_ready(self) < 0)
		return NULL;
	return PyLong_FromLong(kvmdci_target_cpu_count(self->target));
}

static PyObject *Kernel_get_live(KernelObject *self, void *c)
{
	if (kernel_ready(self) < 0)
		return NULL;
	return PyBool_FromLong(kvmdci_target_has_run_control(self->target) == 1);
}

static PyObject *Kernel_get_vendor(KernelObject *self, void *c)
{
	if (kernel_ready(self) < 0)
		return NULL;
	switch (kvmdci_kvm_vendor(self->kernel)) {
	case KVMDCI_VENDOR_VMX:
		return PyUnicode_FromString("vmx");
	case KVMDCI_VENDOR_SVM:
		return PyUnicode_FromString("svm");
	default:
		Py_RETURN_NONE;
	}
}

static PyObject *source_dict(const struct kvmdci_kernel_source *s)
{
	PyObject *d = PyDict_New();
	static const char *const kinds[] = { "none", "file", "memory" };
	if (!d || kd_set_str(d, "kind", kinds[s->kind <= 2 ? s->kind : 0]) < 0 ||
	    kd_set_str(d, "format", s->format) < 0 || kd_set_str(d, "path", s->path) < 0 ||
	    kd_set_u64(d, "address", s->addr) < 0 || kd_set_u64(d, "length", s->size) < 0 ||
	    kd_set_u64(d, "count", s->count) < 0) {
		Py_XDECREF(d);
		return NULL;
	}
	return d;
}

static PyObject *Kernel_sources(KernelObject *self, PyObject *args)
{
	const char *module = NULL;
	struct kvmdci_kernel_source sy, ty;
	int r;

	if (!PyArg_ParseTuple(args, "|z:sources", &module))
		return NULL;
	if (kernel_ready(self) < 0)
		return NULL;
	if ((r = kvmdci_kernel_symbols_source(self->kernel, module, &sy)) < 0 ||
	    (r = kvmdci_kernel_types_source(self->kernel, module, &ty)) < 0)
		return kd_raise(self->ctx, r, "module %s", module ? module : "vmlinux");
	PyObject *d = PyDict_New();
	if (!d || kd_set(d, "symbols", source_dict(&sy)) < 0 ||
	    kd_set(d, "types", source_dict(&ty)) < 0) {
		Py_XDECREF(d);
		return NULL;
	}
	return d;
}

static PyObject *Kernel_get_files(KernelObject *self, void *c)
{
	struct kvmdci_kernel_source sy, ty;

	if (kernel_ready(self) < 0)
		return NULL;
	PyObject *d = PyDict_New(), *mods = PyDict_New();
	if (!d || !mods)
		goto fail;
	kvmdci_kernel_symbols_source(self->kernel, NULL, &sy);
	kvmdci_kernel_types_source(self->kernel, NULL, &ty);
	const char *vml = ty.kind == KVMDCI_SOURCE_FILE ? ty.path :
			  sy.kind == KVMDCI_SOURCE_FILE && sy.format &&
				  strcmp(sy.format, "System.map") ? sy.path : NULL;
	const char *smap = sy.kind == KVMDCI_SOURCE_FILE && sy.format &&
				   !strcmp(sy.format, "System.map") ? sy.path : NULL;
	const char *mdir = self->modules ? self->modules :
			   kvmdci_ctx_get_tunable(self->ctx, KVMDCI_TUNABLE_MODULES);
	if (kd_set_str(d, "vmlinux", vml) < 0 || kd_set_str(d, "system_map", smap) < 0 ||
	    kd_set_str(d, "modules_dir", mdir && mdir[0] ? mdir : NULL) < 0)
		goto fail;
	int n = kvmdci_kernel_module_count(self->kernel);
	for (int i = 0; i < n; i++) {
		const char *name;
		uint64_t addr;
		struct kvmdci_kernel_source ms;
		if (kvmdci_kernel_module(self->kernel, i, &name, &addr) < 0 ||
		    kvmdci_kernel_types_source(self->kernel, name, &ms) < 0 ||
		    ms.kind != KVMDCI_SOURCE_FILE || !ms.path)
			continue;
		if (kd_set_str(mods, name, ms.path) < 0)
			goto fail;
	}
	if (PyDict_SetItemString(d, "modules", mods) < 0)
		goto fail;
	Py_DECREF(mods);
	return d;
fail:
	Py_XDECREF(d);
	Py_XDECREF(mods);
	return NULL;
}

static PyObject *Kernel_repr(KernelObject *self)
{
	if (!self->ctx)
		return PyUnicode_FromFormat("<kvmdci.Kernel %s, closed>", self->uri ? self->uri : "?");
	if (!self->kernel)
		return PyUnicode_FromFormat("<kvmdci.Kernel %s>", self->uri);
	return PyUnicode_FromFormat("<kvmdci.Kernel %s: Linux %s, KASLR 0x%llx%s>", self->uri,
				    kvmdci_kernel_release(self->kernel),
				    (unsigned long long)kvmdci_kernel_kaslr_offset(self->kernel),
				    self->busy ? ", tracing" : "");
}

static PyMethodDef Kernel_methods[] = {
	{ "close", (PyCFunction)Kernel_close, METH_NOARGS,
	  "close()\n--\n\nDetach from the target (a live one is left running, every breakpoint "
	  "removed) and free the kernel view. Safe to call twice." },
	{ "__enter__", (PyCFunction)Kernel_enter, METH_NOARGS, "Enter a with block: the Kernel." },
	{ "__exit__", (PyCFunction)Kernel_exit, METH_VARARGS, "Leave a with block: close()." },
	{ "read", (PyCFunction)(void (*)(void))Kernel_read, METH_VARARGS | METH_KEYWORDS,
	  "read(address, size, physical=False)\n--\n\nRead size bytes of kernel virtual memory "
	  "(through the kernel's page tables), or of physical memory with physical=True.\n"
	  "Returns bytes; raises FaultError (with .address) when the memory cannot be read." },
	{ "symbol", (PyCFunction)Kernel_symbol, METH_VARARGS,
	  "symbol(name)\n--\n\nThe run-time address (KASLR applied) of a symbol: 'name' (vmlinux, "
	  "then the loaded modules), 'module:name' or 'vmlinux:name'. Raises Error (errno ENOENT) "
	  "when there is none." },
	{ "symbolize", (PyCFunction)Kernel_symbolize, METH_VARARGS,
	  "symbolize(address)\n--\n\n'module!function+0xoff' for a kernel address, or None when no "
	  "symbol covers it." },
	{ "virt_to_phys", (PyCFunction)Kernel_virt_to_phys, METH_VARARGS,
	  "virt_to_phys(address)\n--\n\nThe physical address a kernel virtual address maps to "
	  "(through the kernel's page tables). Raises FaultError when it is not mapped." },
	{ "type_size", (PyCFunction)(void (*)(void))Kernel_type_size, METH_VARARGS | METH_KEYWORDS,
	  "type_size(type, module=None)\n--\n\nThe size in bytes of a type ('struct kvm', 'u64') "
	  "from the target's type info (vmlinux, then the loaded modules, or one module)." },
	{ "member", (PyCFunction)(void (*)(void))Kernel_member, METH_VARARGS | METH_KEYWORDS,
	  "member(type, path, module=None)\n--\n\nWhere a member is in a type: a dict with offset "
	  "(bytes), bit_offset, bitfield_size and size, from the target's type info; path may "
	  "name nested members and indexes ('stat.exits', 'range[2].dev')." },
	{ "modules", (PyCFunction)Kernel_modules, METH_NOARGS,
	  "modules()\n--\n\nThe target's loaded modules in list order: dicts with name and "
	  "address (the struct module)." },
	{ "sources", (PyCFunction)Kernel_sources, METH_VARARGS,
	  "sources(module=None)\n--\n\nWhere the symbols and types of vmlinux (or of a loaded "
	  "module) came from: {'symbols': {...}, 'types': {...}}, each with kind ('file', "
	  "'memory', 'none'), format, path, address, length and count." },
	KD_KVM_METHODS
	{ NULL },
};

static PyGetSetDef Kernel_getset[] = {
	{ "kaslr_offset", (getter)Kernel_get_kaslr_offset, NULL,
	  "The kernel's virtual KASLR offset (0 without KASLR).", NULL },
	{ "kaslr_source", (getter)Kernel_get_kaslr_source, NULL,
	  "How the KASLR offset was found, in words ('VMCOREINFO KERNELOFFSET', ...).", NULL },
	{ "release", (getter)Kernel_get_release, NULL,
	  "The kernel release read from the target's linux_banner ('6.1.0-27-amd64').", NULL },
	{ "uri", (getter)Kernel_get_uri, NULL, "The target URI this Kernel was opened with.", NULL },
	{ "closed", (getter)Kernel_get_closed, NULL, "True after close().", NULL },
	{ "vmcoreinfo", (getter)Kernel_get_vmcoreinfo, NULL,
	  "The VMCOREINFO note the target carries (a dump, /proc/kcore) as bytes, or None (a live "
	  "link carries none).", NULL },
	{ "phys_base", (getter)Kernel_get_phys_base, NULL,
	  "The x86-64 kernel's phys_base (VMCOREINFO's, else computed by translating _text), or "
	  "None when it cannot be found.", NULL },
	{ "cpu_count", (getter)Kernel_get_cpu_count, NULL, "The number of CPUs of the target.",
	  NULL },
	{ "live", (getter)Kernel_get_live, NULL,
	  "True for a live target with run control (breakpoints, traces); False for a dump or "
	  "/proc/kcore.", NULL },
	{ "vendor", (getter)Kernel_get_vendor, NULL,
	  "'vmx' (kvm_intel loaded), 'svm' (kvm_amd) or None.", NULL },
	{ "files", (getter)Kernel_get_files, NULL,
	  "The files the kernel view uses: {'vmlinux': path or None, 'system_map': path or None, "
	  "'modules_dir': path or None, 'modules': {name: path of the .ko whose types are used}}.",
	  NULL },
	{ NULL },
};

PyTypeObject KernelType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "kvmdci.Kernel",
	.tp_basicsize = sizeof(KernelObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
	.tp_doc = "A target's kernel as libkvmdci sees it: made by kvmdci.open(). Owns the "
		  "connection to the target (or the open dump) and the kernel view (symbols, KASLR, "
		  "modules, types). A context manager: the with block closes it.",
	.tp_dealloc = (destructor)Kernel_dealloc,
	.tp_repr = (reprfunc)Kernel_repr,
	.tp_traverse = (traverseproc)Kernel_traverse,
	.tp_methods = Kernel_methods,
	.tp_getset = Kernel_getset,
};

/* ---- module ------------------------------------------------------------------------------- */

static PyObject *kd_version(PyObject *m, PyObject *unused)
{
	return PyUnicode_FromString(kvmdci_version());
}

static PyObject *kd_features(PyObject *m, PyObject *unused)
{
	return PyUnicode_FromString(kvmdci_features());
}

static PyMethodDef module_methods[] = {
	{ "open", (PyCFunction)(void (*)(void))kd_open, METH_VARARGS | METH_KEYWORDS,
	  "open(uri, vmlinux=None, system_map=None, modules=None)\n--\n\nAttach to a target "
	  "(gdb://HOST:PORT, gdb+unix:///path, serial:///dev/ttyX, usb://..., core:///path, "
	  "kcore:) and build its kernel view. vmlinux, system_map and modules (a directory of "
	  ".ko files) default to $KVMDCI_VMLINUX, $KVMDCI_SYSTEM_MAP and $KVMDCI_MODULES; what is "
	  "still missing is read from the target's memory. A live target is stopped while "
	  "attached. Returns a Kernel; raises Error (with errno and the library's message)." },
	{ "_open_as", (PyCFunction)(void (*)(void))kd_open_as, METH_VARARGS | METH_KEYWORDS,
	  "_open_as(cls, uri, ...)\n--\n\nopen() making an instance of cls, a subclass of Kernel "
	  "(the kvmdci package's Kernel)." },
	{ "version", kd_version, METH_NOARGS,
	  "version()\n--\n\nThe version of the loaded libkvmdci ('0.13.0')." },
	{ "features", kd_features, METH_NOARGS,
	  "features()\n--\n\nWhat the loaded libkvmdci can do, as a space-separated string "
	  "('libusb libkdumpfile dwarf btf')." },
	KD_MODULE_METHODS
	{ NULL },
};

static struct PyModuleDef moduledef = {
	PyModuleDef_HEAD_INIT,
	.m_name = "kvmdci._kvmdci",
	.m_doc = "The C binding of libkvmdci; use the kvmdci package, which re-exports it.",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__kvmdci(void);
PyMODINIT_FUNC PyInit__kvmdci(void)
{
	PyObject *m = PyModule_Create(&moduledef);
	if (!m)
		return NULL;
	kvmdci_Error = PyErr_NewExceptionWithDoc(
		"kvmdci.Error",
		"A libkvmdci call failed: an OSError whose errno is the library's and whose "
		"strerror is the library's one-line message (what failed, where, what to do).",
		PyExc_OSError, NULL);
	if (!kvmdci_Error)
		goto fail;
	PyObject *fdict = Py_BuildValue("{s:O}", "address", Py_None);
	kvmdci_FaultError = PyErr_NewExceptionWithDoc(
		"kvmdci.FaultError",
		"Target memory could not be read (errno EFAULT); .address is the address that "
		"failed.",
		kvmdci_Error, fdict);
	Py_XDECREF(fdict);
	if (!kvmdci_FaultError)
		goto fail;
	if (PyType_Ready(&KernelType) < 0 || kd_types_ready() < 0)
		goto fail;
	Py_INCREF(kvmdci_Error);
	Py_INCREF(kvmdci_FaultError);
	Py_INCREF(&KernelType);
	if (PyModule_AddObject(m, "Error", kvmdci_Error) < 0 ||
	    PyModule_AddObject(m, "FaultError", kvmdci_FaultError) < 0 ||
	    PyModule_AddObject(m, "Kernel", (PyObject *)&KernelType) < 0 ||
	    kd_types_add(m) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
