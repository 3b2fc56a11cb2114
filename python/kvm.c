// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvmdci._kvmdci: the KVM model (VMs, vCPUs, I/O buses, VMX/SVM state, CPUs and stacks, the
 * catalog) and the tracer, as Python values. Each function calls the library's walk and
 * converts its struct, with the key names of the tools' --json (addresses as ints).
 */
#include "_kvmdci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- VMs and vCPUs ------------------------------------------------------------------------ */

static PyObject *vm_dict(const struct kvmdci_vm_info *vi)
{
	PyObject *d = PyDict_New();
	if (!d || kd_set_u64(d, "vm", vi->vm) < 0 ||
	    kd_set_i64(d, "vm_pid", vi->userspace_pid) < 0 ||
	    kd_set_i64(d, "online_vcpus", vi->online_vcpus) < 0 ||
	    (vi->created_vcpus < 0 ? kd_set_none(d, "created_vcpus")
				   : kd_set_i64(d, "created_vcpus", vi->created_vcpus)) < 0 ||
	    kd_set_str(d, "stats_id", vi->stats_id[0] ? vi->stats_id : NULL) < 0 ||
	    kd_set_errno(d, "error", vi->error) < 0) {
		Py_XDECREF(d);
		return NULL;
	}
	return d;
}

/* A selection from Python arguments: vm (address), vm_pid, vcpu_id. */
static int parse_select(PyObject *vm, PyObject *pid, PyObject *vcpu_id,
			struct kvmdci_vm_select *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->vcpu_id = -1;
	if (vm && vm != Py_None) {
		sel->vm = PyLong_AsUnsignedLongLong(vm);
		if (PyErr_Occurred())
			return -1;
	}
	if (pid && pid != Py_None) {
		sel->pid = PyLong_AsLongLong(pid);
		if (PyErr_Occurred())
			return -1;
		if (sel->pid <= 0) {
			PyErr_SetString(PyExc_ValueError, "vm_pid must be a positive pid");
			return -1;
		}
	}
	if (vcpu_id && vcpu_id != Py_None) {
		long v = PyLong_AsLong(vcpu_id);
		if (PyErr_Occurred())
			return -1;
		if (v < 0 || v > INT32_MAX) {
			PyErr_SetString(PyExc_ValueError, "vcpu_id must be >= 0");
			return -1;
		}
		sel->vcpu_id = (int32_t)v;
	}
	return 0;
}

PyObject *Kernel_vms(KernelObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "vm_pid", NULL };
	PyObject *pid = Py_None;
	struct kvmdci_vm_select sel;
	struct kvmdci_vm_list *l = NULL;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:vms", kwlist, &pid) ||
	    parse_select(NULL, pid, NULL, &sel) < 0 || kernel_ready(self) < 0)
		return NULL;
	if ((r = kvmdci_vm_list_new(self->kernel, &sel, &l)) < 0)
		return kd_raise(self->ctx, r, "kvm:vm_list");
	PyObject *out = PyList_New(0);
	const struct kvmdci_vm_info *vi;
	for (int i = 0; out && (vi = kvmdci_vm_list_get(l, i)); i++) {
		PyObject *d = vm_dict(vi);
		if (!d || PyList_Append(out, d) < 0)
			Py_CLEAR(out);
		Py_XDECREF(d);
	}
	kvmdci_vm_list_unref(l);
	return out;
}

static PyObject *vcpu_state_dict(KernelObject *self, uint64_t vcpu)
{
	struct kvmdci_vcpu_state s;
	int r;

	if ((r = kvmdci_kvm_vcpu_state(self->kernel, vcpu, &s)) < 0)
		return kd_raise_fault(self->ctx, r, vcpu, "cannot read vCPU");
	PyObject *d = PyDict_New(), *regs = PyDict_New(), *nc = PyList_New(0);
	if (!d || !regs || !nc)
		goto fail;
	for (int i = 0; i < KVMDCI_NR_REGS; i++) {
		const char *name = kvmdci_vcpu_reg_name(i);
		if (s.valid & (1u << i)) {
			if (kd_set_u64(regs, name, s.regs[i]) < 0)
				goto fail;
		} else {
			PyObject *n = PyUnicode_FromString(name);
			if (kd_set_none(regs, name) < 0 || !n || PyList_Append(nc, n) < 0) {
				Py_XDECREF(n);
				goto fail;
			}
			Py_DECREF(n);
		}
	}
	if (kd_set_u64(d, "vcpu", s.vcpu) < 0 || kd_set_u64(d, "vm", s.vm) < 0 ||
	    kd_set_i64(d, "vcpu_id", s.vcpu_id) < 0 || kd_set_i64(d, "vcpu_idx", s.vcpu_idx) < 0 ||
	    kd_set_i64(d, "cpu", s.cpu) < 0 ||
	    kd_set_str(d, "mode", kvmdci_vcpu_mode_name(s.mode)) < 0 ||
	    kd_set_i64(d, "mode_value", s.mode) < 0 ||
	    kd_set_i64(d, "pid", s.pid) < 0 || kd_set_i64(d, "vm_pid", s.vm_pid) < 0 ||
	    kd_set_u64(d, "regs_avail", s.regs_avail) < 0 ||
	    kd_set_u64(d, "regs_dirty", s.regs_dirty) < 0 || PyDict_SetItemString(d, "regs", regs) < 0 ||
	    PyDict_SetItemString(d, "not_cached", nc) < 0 || kd_set_errno(d, "error", s.error) < 0)
		goto fail;
	Py_DECREF(regs);
	Py_DECREF(nc);
	return d;
fail:
	Py_XDECREF(d);
	Py_XDECREF(regs);
	Py_XDECREF(nc);
	return NULL;
}

PyObject *Kernel_vcpus(KernelObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "vm", "vm_pid", "vcpu_id", NULL };
	PyObject *vm = Py_None, *pid = Py_None, *vid = Py_None;
	struct kvmdci_vm_select sel;
	struct kvmdci_vcpu_list *l = NULL;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOO:vcpus", kwlist, &vm, &pid, &vid) ||
	    parse_select(vm, pid, vid, &sel) < 0 || kernel_ready(self) < 0)
		return NULL;
	if ((r = kvmdci_vcpu_list_new(self->kernel, &sel, &l)) < 0)
		return kd_raise(self->ctx, r, "vCPUs");
	PyObject *out = PyList_New(0);
	const struct kvmdci_vcpu_info *ci;
	for (int i = 0; out && (ci = kvmdci_vcpu_list_get(l, i)); i++) {
		PyObject *d = vcpu_state_dict(self, ci->vcpu);
		if (!d || PyList_Append(out, d) < 0)
			Py_CLEAR(out);
		Py_XDECREF(d);
	}
	kvmdci_vcpu_list_unref(l);
	return out;
}

PyObject *Kernel_vcpu_state(KernelObject *self, PyObject *args)
{
	unsigned long long vcpu;

	if (!PyArg_ParseTuple(args, "K:vcpu_state", &vcpu) || kernel_ready(self) < 0)
		return NULL;
	return vcpu_state_dict(self, vcpu);
}

/* ---- I/O buses ---------------------------------------------------------------------------- */

static PyObject *range_dict(const struct kvmdci_io_range *r)
{
	PyObject *d = PyDict_New(), *sub = NULL;
	if (!d || kd_set_u64(d, "address", r->addr) < 0 || kd_set_i64(d, "length", r->len) < 0 ||
	    kd_set_str(d, "kind", kvmdci_io_dev_kind_name(r->kind)) < 0 ||
	    kd_set_u64(d, "dev", r->dev) < 0 || kd_set_u64(d, "ops", r->ops) < 0 ||
	    kd_set_str(d, "ops_symbol", r->ops_symbol[0] ? r->ops_symbol : NULL) < 0 ||
	    (r->object ? kd_set_u64(d, "object", r->object) : kd_set_none(d, "object")) < 0 ||
	    kd_set_errno(d, "error", r->error) < 0)
		goto fail;
	if (!r->decoded)
		return d;
	switch (r->kind) {
	case KVMDCI_IO_DEV_IOEVENTFD:
		sub = PyDict_New();
		if (!sub || kd_set_u64(sub, "address", r->ioeventfd_addr) < 0 ||
		    kd_set_i64(sub, "length", r->ioeventfd_length) < 0 ||
		    (r->ioeventfd_wildcard ? kd_set_none(sub, "datamatch")
					   : kd_set_u64(sub, "datamatch", r->ioeventfd_datamatch)) < 0 ||
		    kd_set_bool(sub, "wildcard", r->ioeventfd_wildcard) < 0 ||
		    kd_set_i64(sub, "bus_idx", r->ioeventfd_bus_idx) < 0 ||
		    PyDict_SetItemString(d, "ioeventfd", sub) < 0)
			goto fail;
		break;
	case KVMDCI_IO_DEV_COALESCED:
		sub = PyDict_New();
		if (!sub || kd_set_u64(sub, "address", r->zone_addr) < 0 ||
		    kd_set_u64(sub, "length", r->zone_size) < 0 ||
		    kd_set_bool(sub, "pio", r->zone_pio != 0) < 0 ||
		    PyDict_SetItemString(d, "zone", sub) < 0)
			goto fail;
		break;
	case KVMDCI_IO_DEV_IOAPIC:
		sub = PyDict_New();
		if (!sub || kd_set_u64(sub, "address", r->ioapic_base) < 0 ||
		    PyDict_SetItemString(d, "ioapic", sub) < 0)
			goto fail;
		break;
	}
	Py_XDECREF(sub);
	return d;
fail:
	Py_XDECREF(sub);
	Py_XDECREF(d);
	return NULL;
}

PyObject *Kernel_io_buses(KernelObject *self, PyObject *args)
{
	unsigned long long vm;
	struct kvmdci_io_bus_info buses[16];
	int n, r;

	if (!PyArg_ParseTuple(args, "K:io_buses", &vm) || kernel_ready(self) < 0)
		return NULL;
	if ((n = kvmdci_kvm_io_buses(self->kernel, vm, buses, 16)) < 0)
		return kd_raise_fault(self->ctx, n, vm, "cannot read the VM's buses");
	if (n > 16)
		n = 16;
	PyObject *out = PyList_New(0);
	for (int b = 0; out && b < n; b++) {
		const struct kvmdci_io_bus_info *bi = &buses[b];
		const char *name = kvmdci_io_bus_name(bi->index);
		PyObject *d = PyDict_New(), *ranges = PyList_New(0);
		if (!d || !ranges || kd_set_str(d, "name", name) < 0 ||
		    kd_set_i64(d, "index", bi->index) < 0 ||
		    (bi->bus ? kd_set_u64(d, "bus", bi->bus) : kd_set_none(d, "bus")) < 0 ||
		    kd_set_i64(d, "dev_count", bi->dev_count) < 0 ||
		    kd_set_i64(d, "ioeventfd_count", bi->ioeventfd_count) < 0)
			goto bad;
		if (bi->error) {
			if (kd_set_errno(d, "error", bi->error) < 0)
				goto bad;
		} else if (bi->bus && bi->dev_count > 0) {
			int max = bi->dev_count;
			struct kvmdci_io_range *rg = calloc((size_t)max, sizeof(*rg));
			if (!rg) {
				PyErr_NoMemory();
				goto bad;
			}
			r = kvmdci_kvm_io_ranges(self->kernel, vm, bi->index, rg, max);
			if (r < 0) {
				if (kd_set_str(d, "error", kvmdci_ctx_last_error(self->ctx)[0]
								   ? kvmdci_ctx_last_error(self->ctx)
								   : strerror(-r)) < 0) {
					free(rg);
					goto bad;
				}
				r = 0;
			}
			for (int i = 0; i < r && i < max; i++) {
				PyObject *rd = range_dict(&rg[i]);
				if (!rd || PyList_Append(ranges, rd) < 0) {
					Py_XDECREF(rd);
					free(rg);
					goto bad;
				}
				Py_DECREF(rd);
			}
			free(rg);
		}
		if (PyDict_SetItemString(d, "ranges", ranges) < 0 || PyList_Append(out, d) < 0)
			goto bad;
		Py_DECREF(ranges);
		Py_DECREF(d);
		continue;
bad:
		Py_XDECREF(ranges);
		Py_XDECREF(d);
		Py_CLEAR(out);
	}
	return out;
}

/* ---- VMX / SVM ---------------------------------------------------------------------------- */

PyObject *Kernel_vmx(KernelObject *self, PyObject *args)
{
	unsigned long long vcpu;
	struct kvmdci_vmx_vcpu v;
	int r;

	if (!PyArg_ParseTuple(args, "K:vmx", &vcpu) || kernel_ready(self) < 0)
		return NULL;
	if ((r = kvmdci_vmx_vcpu(self->kernel, vcpu, &v)) < 0)
		return kd_raise_fault(self->ctx, r, vcpu, "cannot read the vCPU's VMX state");
	PyObject *d = PyDict_New(), *flags = PyList_New(0);
	if (!d || !flags)
		goto fail;
	for (int bit = 16; bit < 32; bit++) {
		const char *fn = kvmdci_vmx_exit_flag_name(bit);
		if (fn && (v.exit_reason_flags & (1u << (bit - 16)))) {
			PyObject *s = PyUnicode_FromString(fn);
			if (!s || PyList_Append(flags, s) < 0) {
				Py_XDECREF(s);
				goto fail;
			}
			Py_DECREF(s);
		}
	}
	const char *rname = kvmdci_exit_reason_name(KVMDCI_VENDOR_VMX, v.exit_reason_basic);
	if (kd_set_u64(d, "vcpu", v.vcpu) < 0 || kd_set_u64(d, "loaded_vmcs", v.loaded_vmcs) < 0 ||
	    kd_set_u64(d, "vmcs", v.vmcs) < 0 || kd_set_u64(d, "shadow_vmcs", v.shadow_vmcs) < 0 ||
	    kd_set_i64(d, "cpu", v.cpu) < 0 || kd_set_bool(d, "launched", v.launched) < 0 ||
	    kd_set_bool(d, "loaded_is_vmcs01", v.loaded_is_vmcs01) < 0 ||
	    (v.header_ok ? kd_set_u64(d, "revision_id", v.revision_id)
			 : kd_set_none(d, "revision_id")) < 0 ||
	    (v.header_ok ? kd_set_bool(d, "shadow_bit", v.shadow_bit)
			 : kd_set_none(d, "shadow_bit")) < 0 ||
	    (v.header_ok ? kd_set_u64(d, "abort", v.abort) : kd_set_none(d, "abort")) < 0 ||
	    kd_set_u64(d, "exit_reason", v.exit_reason) < 0 ||
	    kd_set_u64(d, "exit_reason_basic", v.exit_reason_basic) < 0 ||
	    kd_set_str(d, "exit_reason_name", rname) < 0 ||
	    PyDict_SetItemString(d, "exit_reason_flags", flags) < 0 ||
	    (v.exit_qualification_valid == 1
		     ? kd_set_u64(d, "exit_qualification", v.exit_qualification)
		     : kd_set_none(d, "exit_qualification")) < 0 ||
	    kd_set_u64(d, "exit_intr_info", v.exit_intr_info) < 0 ||
	    kd_set_u64(d, "idt_vectoring_info", v.idt_vectoring_info) < 0 ||
	    kd_set_bool(d, "nested_vmxon", v.nested_vmxon) < 0 ||
	    kd_set_u64(d, "vmxon_ptr", v.vmxon_ptr) < 0 ||
	    (v.current_vmptr == UINT64_MAX ? kd_set_none(d, "current_vmptr")
					   : kd_set_u64(d, "current_vmptr", v.current_vmptr)) < 0 ||
	    kd_set_u64(d, "cached_vmcs12", v.cached_vmcs12) < 0 ||
	    kd_set_u64(d, "vmcs01_vmcs", v.vmcs01_vmcs) < 0 ||
	    kd_set_u64(d, "vmcs02_vmcs", v.vmcs02_vmcs) < 0 ||
	    kd_set_errno(d, "error", v.error) < 0)
		goto fail;
	Py_DECREF(flags);
	return d;
fail:
	Py_XDECREF(flags);
	Py_XDECREF(d);
	return NULL;
}

static PyObject *fields_list(const struct kvmdci_field *f, int n)
{
	PyObject *l = PyList_New(0);
	for (int i = 0; l && i < n; i++) {
		PyObject *d = PyDict_New();
		if (!d || kd_set_str(d, "name", f[i].name) < 0 ||
		    kd_set_u64(d, "offset", f[i].offset) < 0 || kd_set_u64(d, "size", f[i].size) < 0 ||
		    kd_set_u64(d, "value", f[i].value) < 0 ||
		    (f[i].encoding == UINT32_MAX ? kd_set_none(d, "encoding")
						 : kd_set_u64(d, "encoding", f[i].encoding)) < 0 ||
		    PyList_Append(l, d) < 0)
			Py_CLEAR(l);
		Py_XDECREF(d);
	}
	return l;
}

PyObject *Kernel_vmcs12(KernelObject *self, PyObject *args)
{
	unsigned long long addr;
	uint32_t rev = 0;
	int n, max = 512;

	if (!PyArg_ParseTuple(args, "K:vmcs12", &addr) || kernel_ready(self) < 0)
		return NULL;
	struct kvmdci_field *f = calloc((size_t)max, sizeof(*f));
	if (!f)
		return PyErr_NoMemory();
	if ((n = kvmdci_vmx_vmcs12(self->kernel, addr, &rev, f, max)) < 0) {
		free(f);
		return kd_raise_fault(self->ctx, n, addr, "cannot read vmcs12");
	}
	PyObject *fl = fields_list(f, n < max ? n : max);
	free(f);
	if (!fl)
		return NULL;
	return Py_BuildValue("{s:I, s:N}", "revision", (unsigned int)rev, "fields", fl);
}

PyObject *Kernel_svm(KernelObject *self, PyObject *args)
{
	unsigned long long vcpu;
	struct kvmdci_svm_vcpu v;
	int r;

	if (!PyArg_ParseTuple(args, "K:svm", &vcpu) || kernel_ready(self) < 0)
		return NULL;
	if ((r = kvmdci_svm_vcpu(self->kernel, vcpu, &v)) < 0)
		return kd_raise_fault(self->ctx, r, vcpu, "cannot read the vCPU's SVM state");
	PyObject *d = PyDict_New();
	if (!d || kd_set_u64(d, "vcpu", v.vcpu) < 0 || kd_set_u64(d, "vmcb", v.vmcb) < 0 ||
	    kd_set_u64(d, "vmcb_pa", v.vmcb_pa) < 0 || kd_set_u64(d, "vmcb01", v.vmcb01) < 0 ||
	    kd_set_u64(d, "vmcb01_pa", v.vmcb01_pa) < 0 || kd_set_u64(d, "vmcb02", v.vmcb02) < 0 ||
	    kd_set_u64(d, "vmcb12_gpa", v.vmcb12_gpa) < 0 ||
	    kd_set_u64(d, "hsave_msr", v.hsave_msr) < 0 ||
	    kd_set_bool(d, "guest_mode", v.guest_mode) < 0 ||
	    (v.asid < 0 ? kd_set_none(d, "asid") : kd_set_i64(d, "asid", v.asid)) < 0 ||
	    kd_set_errno(d, "error", v.error) < 0) {
		Py_XDECREF(d);
		return NULL;
	}
	return d;
}

static PyObject *seg_dict(const struct kvmdci_vmcb_seg *s)
{
	return Py_BuildValue("{s:I, s:I, s:I, s:K}", "selector", (unsigned int)s->selector,
			     "attrib", (unsigned int)s->attrib, "limit", (unsigned int)s->limit,
			     "base", (unsigned long long)s->base);
}

PyObject *Kernel_vmcb(KernelObject *self, PyObject *args)
{
	unsigned long long addr;
	struct kvmdci_vmcb v;
	int r;

	if (!PyArg_ParseTuple(args, "K:vmcb", &addr) || kernel_ready(self) < 0)
		return NULL;
	if ((r = kvmdci_svm_vmcb(self->kernel, addr, &v)) < 0)
		return kd_raise_fault(self->ctx, r, addr, "cannot read the VMCB");
	PyObject *d = PyDict_New(), *ic = PyList_New(0);
	if (!d || !ic)
		goto fail;
	for (int bit = 0; bit < v.nintercepts * 32 && bit < 6 * 32; bit++) {
		if (!(v.intercepts[bit / 32] & (1u << (bit % 32))))
			continue;
		const char *n = kvmdci_svm_intercept_name(bit);
		PyObject *s = n ? PyUnicode_FromString(n) : PyUnicode_FromFormat("bit_%d", bit);
		if (!s || PyList_Append(ic, s) < 0) {
			Py_XDECREF(s);
			goto fail;
		}
		Py_DECREF(s);
	}
	const char *ename = kvmdci_exit_reason_name(KVMDCI_VENDOR_SVM, v.exit_code);
#define U(name) kd_set_u64(d, #name, v.name) < 0
#define SEG(name) kd_set(d, #name, seg_dict(&v.name)) < 0
	if (kd_set_u64(d, "address", v.addr) < 0 || PyDict_SetItemString(d, "intercepts", ic) < 0 ||
	    U(pause_filter_thresh) || U(pause_filter_count) || U(iopm_base_pa) ||
	    U(msrpm_base_pa) || U(tsc_offset) || U(asid) || U(tlb_ctl) || U(int_ctl) ||
	    U(int_vector) || U(int_state) || U(exit_code) || U(exit_code_hi) ||
	    kd_set_str(d, "exit_code_name", ename) < 0 || U(exit_int_info) ||
	    U(exit_int_info_err) || U(event_inj) || U(event_inj_err) || U(clean) ||
	    U(exit_info_1) || U(exit_info_2) || U(nested_ctl) || U(nested_cr3) || U(virt_ext) ||
	    U(next_rip) || SEG(es) || SEG(cs) || SEG(ss) || SEG(ds) || SEG(fs) || SEG(gs) ||
	    SEG(gdtr) || SEG(ldtr) || SEG(idtr) || SEG(tr) || U(cpl) || U(efer) || U(cr0) ||
	    U(cr2) || U(cr3) || U(cr4) || U(dr6) || U(dr7) || U(rflags) || U(rip) || U(rsp) ||
	    U(rax))
		goto fail;
#undef U
#undef SEG
	Py_DECREF(ic);
	return d;
fail:
	Py_XDECREF(ic);
	Py_XDECREF(d);
	return NULL;
}

PyObject *Kernel_vmcb_fields(KernelObject *self, PyObject *args)
{
	unsigned long long addr;
	int n, max = 512;

	if (!PyArg_ParseTuple(args, "K:vmcb_fields", &addr) || kernel_ready(self) < 0)
		return NULL;
	struct kvmdci_field *f = calloc((size_t)max, sizeof(*f));
	if (!f)
		return PyErr_NoMemory();
	if ((n = kvmdci_svm_vmcb_fields(self->kernel, addr, f, max)) < 0) {
		free(f);
		return kd_raise_fault(self->ctx, n, addr, "cannot read the VMCB");
	}
	PyObject *l = fields_list(f, n < max ? n : max);
	free(f);
	return l;
}

/* ---- CPUs: virtualization, stacks --------------------------------------------------------- */

static PyObject *tri(int v)
{
	if (v < 0)
		Py_RETURN_NONE;
	return PyBool_FromLong(v);
}

PyObject *Kernel_vmxon(KernelObject *self, PyObject *unused)
{
	if (kernel_ready(self) < 0)
		return NULL;
	int max = kvmdci_target_cpu_count(self->target);
	if (max <= 0)
		max = 1;
	struct kvmdci_cpu_virt *c = calloc((size_t)max, sizeof(*c));
	if (!c)
		return PyErr_NoMemory();
	int n = kvmdci_kvm_cpu_virt(self->kernel, c, max);
	if (n < 0) {
		free(c);
		return kd_raise(self->ctx, n, "CPU virtualization state");
	}
	PyObject *out = PyList_New(0);
	for (int i = 0; out && i < n && i < max; i++) {
		const struct kvmdci_cpu_virt *v = &c[i];
		PyObject *d = PyDict_New();
		int bad = !d || kd_set_i64(d, "cpu", v->cpu) < 0 ||
			  kd_set(d, "cpu_on", tri(v->cpu_on)) < 0 ||
			  kd_set(d, "in_guest", tri(v->in_guest)) < 0 ||
			  (v->regs_valid & 1 ? kd_set_u64(d, "cr4", v->cr4) : kd_set_none(d, "cr4")) < 0 ||
			  (v->regs_valid & 2 ? kd_set_u64(d, "efer", v->efer) : kd_set_none(d, "efer")) < 0 ||
			  kd_set(d, "kvm_on", tri(v->kvm_on)) < 0 ||
			  kd_set_str(d, "kvm_source", v->kvm_source[0] ? v->kvm_source : NULL) < 0 ||
			  kd_set_str(d, "owner", kvmdci_virt_owner_name(v->owner)) < 0 ||
			  kd_set_str(d, "reason", v->reason) < 0;
		if (!bad && v->vendor == KVMDCI_VENDOR_VMX)
			bad = kd_set_u64(d, "vmxarea", v->vmxarea) < 0 ||
			      (v->vmxon_valid & 2 ? kd_set_u64(d, "vmxon_region_pa", v->vmxarea_pa)
						  : kd_set_none(d, "vmxon_region_pa")) < 0 ||
			      (v->vmxon_valid & 1 ? kd_set_u64(d, "vmxon_revision", v->vmxon_revision)
						  : kd_set_none(d, "vmxon_revision")) < 0 ||
			      kd_set_u64(d, "current_vmcs", v->current_vmcs) < 0;
		else if (!bad && v->vendor == KVMDCI_VENDOR_SVM)
			bad = kd_set_u64(d, "svm_data", v->svm_data) < 0 ||
			      kd_set_u64(d, "save_area", v->save_area) < 0 ||
			      kd_set_u64(d, "save_area_pa", v->save_area_pa) < 0 ||
			      kd_set_u64(d, "current_vmcb", v->svm_current_vmcb) < 0;
		if (bad || PyList_Append(out, d) < 0)
			Py_CLEAR(out);
		Py_XDECREF(d);
	}
	free(c);
	return out;
}

static const char *end_key(int end)
{
	static const char *const keys[] = {
		[KVMDCI_UNWIND_END_OF_STACK] = "end_of_stack", [KVMDCI_UNWIND_USER_MODE] = "user_mode",
		[KVMDCI_UNWIND_BAD_ORC] = "bad_orc",           [KVMDCI_UNWIND_BAD_FRAME] = "bad_frame",
		[KVMDCI_UNWIND_UNREADABLE] = "unreadable",     [KVMDCI_UNWIND_LOOP] = "loop",
		[KVMDCI_UNWIND_DEPTH] = "depth",               [KVMDCI_UNWIND_NO_STACK] = "no_stack",
	};
	return end >= 0 && (size_t)end < sizeof(keys) / sizeof(keys[0]) && keys[end] ? keys[end]
										     : "unknown";
}

static PyObject *stack_dict(const struct kvmdci_stack *s)
{
	PyObject *frames = PyList_New(0);
	char name[256];

	for (int i = 0; frames && i < s->nframes; i++) {
		const struct kvmdci_frame *f = &s->frames[i];
		if (f->symbolized)
			snprintf(name, sizeof(name), "%s!%s+0x%llx", f->module, f->function,
				 (unsigned long long)f->offset);
		else
			snprintf(name, sizeof(name), "0x%llx", (unsigned long long)f->ip);
		PyObject *d = PyDict_New();
		int bad = !d || kd_set_u64(d, "ip", f->ip) < 0 || kd_set_u64(d, "sp", f->sp) < 0 ||
			  kd_set_str(d, "symbol", name) < 0 ||
			  kd_set_bool(d, "regs", (f->flags & KVMDCI_FRAME_REGS) != 0) < 0 ||
			  kd_set_bool(d, "guess", (f->flags & KVMDCI_FRAME_GUESS) != 0) < 0 ||
			  kd_set_str(d, "module", f->symbolized ? f->module : NULL) < 0 ||
			  kd_set_str(d, "function", f->symbolized ? f->function : NULL) < 0 ||
			  (f->symbolized ? kd_set_u64(d, "offset", f->offset)
					 : kd_set_none(d, "offset")) < 0;
		if (bad || PyList_Append(frames, d) < 0)
			Py_CLEAR(frames);
		Py_XDECREF(d);
	}
	if (!frames)
		return NULL;
	return Py_BuildValue("{s:N, s:s, s:s, s:I}", "frames", frames, "end", end_key(s->end),
			     "end_detail", s->end_detail, "reads", (unsigned int)s->reads);
}

static int need_unwinder(KernelObject *self)
{
	int r;
	if (self->unwinder)
		return 0;
	if ((r = kvmdci_unwinder_new(self->kernel, &self->unwinder)) < 0) {
		kd_raise(self->ctx, r, "stack unwinder (ORC)");
		return -1;
	}
	return 0;
}

PyObject *Kernel_cpus(KernelObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "stacks", NULL };
	int stacks = 1;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:cpus", kwlist, &stacks) ||
	    kernel_ready(self) < 0 || need_unwinder(self) < 0)
		return NULL;
	struct kvmdci_stack *st = malloc(sizeof(*st));
	if (!st)
		return PyErr_NoMemory();
	int n = kvmdci_target_cpu_count(self->target);
	PyObject *out = PyList_New(0);
	for (int cpu = 0; out && cpu < n; cpu++) {
		struct kvmdci_cpu_info ci;
		int r = kvmdci_unwind_cpu(self->unwinder, cpu, &ci, stacks ? st : NULL);
		if (r < 0) {
			kd_raise(self->ctx, r, "CPU %d", cpu);
			Py_CLEAR(out);
			break;
		}
		PyObject *d = PyDict_New(), *task = NULL;
		int bad = !d || kd_set_i64(d, "cpu", cpu) < 0 ||
			  kd_set_i64(d, "linux_cpu", ci.linux_cpu) < 0 ||
			  kd_set_str(d, "mode", kvmdci_cpu_mode_name(ci.mode)) < 0 ||
			  kd_set_str(d, "where", ci.where) < 0 || kd_set_u64(d, "rip", ci.rip) < 0 ||
			  kd_set_u64(d, "rsp", ci.rsp) < 0 || kd_set_u64(d, "rbp", ci.rbp) < 0 ||
			  kd_set_u64(d, "cs", ci.cs) < 0 || kd_set_u64(d, "cr0", ci.cr0) < 0 ||
			  kd_set_u64(d, "cr3", ci.cr3) < 0 ||
			  kd_set(d, "virtualization", tri(ci.virt)) < 0 ||
			  kd_set_bool(d, "guest_stack", ci.guest_stack) < 0;
		if (!bad) {
			if (ci.task) {
				task = Py_BuildValue("{s:K, s:i, s:i, s:s, s:s, s:O}", "task",
						     (unsigned long long)ci.task, "pid", ci.pid, "tgid",
						     ci.tgid, "comm", ci.comm, "state", ci.state, "idle",
						     ci.idle ? Py_True : Py_False);
				bad = kd_set(d, "task", task) < 0;
			} else {
				bad = kd_set_none(d, "task") < 0;
			}
		}
		if (!bad)
			bad = stacks ? kd_set(d, "stack", stack_dict(st)) < 0 : kd_set_none(d, "stack") < 0;
		if (bad || PyList_Append(out, d) < 0)
			Py_CLEAR(out);
		Py_XDECREF(d);
	}
	free(st);
	return out;
}

PyObject *Kernel_task_stack(KernelObject *self, PyObject *args)
{
	unsigned long long task;
	int r;

	if (!PyArg_ParseTuple(args, "K:task_stack", &task) || kernel_ready(self) < 0 ||
	    need_unwinder(self) < 0)
		return NULL;
	struct kvmdci_stack *st = malloc(sizeof(*st));
	if (!st)
		return PyErr_NoMemory();
	if ((r = kvmdci_unwind_task(self->unwinder, task, st)) < 0) {
		free(st);
		return kd_raise_fault(self->ctx, r, task, "cannot read the task");
	}
	PyObject *d = stack_dict(st);
	free(st);
	return d;
}

PyObject *Kernel_task(KernelObject *self, PyObject *args)
{
	unsigned long long v;
	uint64_t task;
	struct kvmdci_task_info ti;
	int r;

	if (!PyArg_ParseTuple(args, "K:task", &v) || kernel_ready(self) < 0)
		return NULL;
	task = v;
	if (v < (1ULL << 32)) {
		if ((r = kvmdci_kernel_task_find(self->kernel, (int)v, &task)) < 0)
			return kd_raise(self->ctx, r, "thread %llu", v);
	}
	if ((r = kvmdci_kernel_task_info(self->kernel, task, &ti)) < 0)
		return kd_raise_fault(self->ctx, r, task, "cannot read the task");
	return Py_BuildValue("{s:K, s:i, s:i, s:s, s:s, s:O, s:i}", "task",
			     (unsigned long long)ti.task, "pid", ti.pid, "tgid", ti.tgid, "comm",
			     ti.comm, "state", ti.state, "on_cpu", ti.on_cpu ? Py_True : Py_False,
			     "cpu", ti.cpu);
}

/* ---- catalog ------------------------------------------------------------------------------ */

int kernel_load_catalog(KernelObject *self)
{
	int r;
	if (self->catalog)
		return 0;
	if ((r = kvmdci_catalog_load(self->ctx, NULL, &self->catalog)) < 0) {
		kd_raise(self->ctx, r, "the breakpoint catalog");
		return -1;
	}
	return 0;
}

PyObject *Kernel_catalog(KernelObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "check", NULL };
	int check = 1;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:catalog", kwlist, &check) ||
	    kernel_ready(self) < 0 || kernel_load_catalog(self) < 0)
		return NULL;
	PyObject *json = PyImport_ImportModule("json");
	if (!json)
		return NULL;
	int n = kvmdci_catalog_count(self->catalog);
	PyObject *out = PyList_New(0);
	for (int i = 0; out && i < n; i++) {
		char *text = kvmdci_catalog_entry_json(self->catalog, i);
		PyObject *d = text ? PyObject_CallMethod(json, "loads", "s", text) : NULL;
		free(text);
		if (!d || !PyDict_Check(d)) {
			if (!PyErr_Occurred())
				kd_raise(self->ctx, -ENOMEM, "catalog entry %d", i);
			Py_XDECREF(d);
			Py_CLEAR(out);
			break;
		}
		int bad = kd_set_str(d, "name", kvmdci_catalog_entry_name(self->catalog, i)) < 0;
		if (!bad && check) {
			struct kvmdci_entry_check c;
			kvmdci_catalog_check_entry(self->catalog, self->kernel, i, &c);
			bad = kd_set_str(d, "status", kvmdci_entry_status_name(c.status)) < 0 ||
			      (c.status == KVMDCI_ENTRY_RESOLVED ? kd_set_u64(d, "address", c.addr)
								 : kd_set_none(d, "address")) < 0 ||
			      kd_set_str(d, "symbol", c.symbol) < 0 ||
			      kd_set_i64(d, "captures_ok", c.captures_ok) < 0 ||
			      kd_set_i64(d, "captures_total", c.captures_total) < 0 ||
			      kd_set_str(d, "reason", c.reason[0] ? c.reason : NULL) < 0;
		}
		if (bad || PyList_Append(out, d) < 0)
			Py_CLEAR(out);
		Py_DECREF(d);
	}
	Py_DECREF(json);
	return out;
}

/* ---- module-level helpers ----------------------------------------------------------------- */

PyObject *kd_exit_reason_name(PyObject *m, PyObject *args)
{
	const char *vendor;
	unsigned long long code;

	if (!PyArg_ParseTuple(args, "sK:exit_reason_name", &vendor, &code))
		return NULL;
	enum kvmdci_vendor v = !strcmp(vendor, "vmx") ? KVMDCI_VENDOR_VMX :
			       !strcmp(vendor, "svm") ? KVMDCI_VENDOR_SVM : KVMDCI_VENDOR_NONE;
	if (v == KVMDCI_VENDOR_NONE) {
		PyErr_Format(PyExc_ValueError, "exit_reason_name: vendor must be 'vmx' or 'svm', "
					       "not '%s'", vendor);
		return NULL;
	}
	const char *n = kvmdci_exit_reason_name(v, code);
	if (!n)
		Py_RETURN_NONE;
	return PyUnicode_FromString(n);
}

PyObject *kd_vmcs_field(PyObject *m, PyObject *args)
{
	PyObject *arg;
	uint32_t enc;
	struct kvmdci_vmcs_field f;

	if (!PyArg_ParseTuple(args, "O:vmcs_field", &arg))
		return NULL;
	if (PyUnicode_Check(arg)) {
		const char *name = PyUnicode_AsUTF8(arg);
		if (!name)
			return NULL;
		if (kvmdci_vmcs_field_lookup(name, &enc) < 0) {
			PyErr_Format(PyExc_KeyError, "no VMCS field named %s", name);
			return NULL;
		}
	} else {
		unsigned long long v = PyLong_AsUnsignedLongLong(arg);
		if (PyErr_Occurred())
			return NULL;
		if (v > UINT32_MAX) {
			PyErr_SetString(PyExc_ValueError, "a VMCS encoding is 32 bits");
			return NULL;
		}
		enc = (uint32_t)v;
	}
	if (kvmdci_vmcs_field_decode(enc, &f) < 0) {
		PyErr_Format(PyExc_ValueError, "0x%x is not a valid VMCS field encoding", enc);
		return NULL;
	}
	PyObject *d = PyDict_New();
	if (!d || kd_set_str(d, "name", f.name) < 0 || kd_set_u64(d, "encoding", f.encoding) < 0 ||
	    kd_set_str(d, "type", kvmdci_vmcs_type_name(f.type)) < 0 ||
	    kd_set_str(d, "width", kvmdci_vmcs_width_name(f.width)) < 0 ||
	    kd_set_bool(d, "high", f.high) < 0) {
		Py_XDECREF(d);
		return NULL;
	}
	return d;
}
