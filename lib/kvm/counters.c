// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A window over KVM's own per-vCPU counters (struct kvm_vcpu_stat, lib/kvm/stats.c): read
 * every vCPU's counters, let the machine run, stop it, read them again. No breakpoint is
 * set, so the guest runs at full speed; the price is totals per counter, not exit reasons.
 */
#include <stdlib.h>

#include "internal.h"
#include "kernel/kernel-internal.h"

struct kvmdci_counters {
	int refcount;
	struct kvmdci_kernel *k;
	struct kvmdci_vcpu_stats_layout *l;
	struct kvmdci_vcpu_info *vcpus;
	int nvcpus;
	int nc;
	uint64_t *start, *end; /* nvcpus * nc values each */
	bool started, stopped;
};

KVMDCI_EXPORT int kvmdci_counters_new(struct kvmdci_kernel *k, struct kvmdci_counters **ret)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(k));
	struct kvmdci_counters *c = calloc(1, sizeof(*c));
	struct kvmdci_vcpu_list *list = NULL;
	int r, n;

	if (!c)
		return -ENOMEM;
	c->refcount = 1;
	c->k = kvmdci_kernel_ref(k);
	if ((r = kvmdci_kvm_vcpu_stats_layout(k, &c->l)) < 0)
		goto fail;
	/* the vCPU list as long as the target has (one walk, sized by the library) */
	if ((r = kvmdci_vcpu_list_new(k, NULL, &list)) < 0)
		goto fail;
	n = kvmdci_vcpu_list_count(list);
	c->vcpus = calloc((size_t)n + 1, sizeof(*c->vcpus));
	if (!c->vcpus) {
		r = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < n; i++)
		c->vcpus[i] = *kvmdci_vcpu_list_get(list, i);
	c->nvcpus = n;
	list = kvmdci_vcpu_list_unref(list);
	c->nc = kvmdci_kvm_vcpu_stats_count(c->l);
	c->start = calloc((size_t)c->nvcpus * (size_t)c->nc + 1, sizeof(*c->start));
	c->end = calloc((size_t)c->nvcpus * (size_t)c->nc + 1, sizeof(*c->end));
	if (!c->start || !c->end) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	kvmdci_vcpu_list_unref(list);
	kvmdci_counters_unref(c);
	return r;
}

KVMDCI_EXPORT struct kvmdci_counters *kvmdci_counters_ref(struct kvmdci_counters *c)
{
	if (c)
		c->refcount++;
	return c;
}

KVMDCI_EXPORT struct kvmdci_counters *kvmdci_counters_unref(struct kvmdci_counters *c)
{
	if (!c || --c->refcount > 0)
		return NULL;
	kvmdci_kvm_vcpu_stats_layout_free(c->l);
	kvmdci_kernel_unref(c->k);
	free(c->vcpus);
	free(c->start);
	free(c->end);
	free(c);
	return NULL;
}

static int read_all(struct kvmdci_counters *c, uint64_t *values)
{
	int r;

	for (int i = 0; i < c->nvcpus; i++)
		if ((r = kvmdci_kvm_vcpu_stats_read(c->k, c->l, c->vcpus[i].vcpu,
						    values + (size_t)i * (size_t)c->nc)) < 0)
			return r;
	return 0;
}

KVMDCI_EXPORT int kvmdci_counters_start(struct kvmdci_counters *c)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(c->k));
	int r;

	if (c->started)
		return -EALREADY;
	if ((r = read_all(c, c->start)) < 0)
		return r;
	if ((r = kvmdci_target_resume(kvmdci_kernel_get_target(c->k))) < 0)
		return r;
	c->started = true;
	return 0;
}

KVMDCI_EXPORT int kvmdci_counters_stop(struct kvmdci_counters *c, int timeout_ms)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(c->k));
	struct kvmdci_target *t = kvmdci_kernel_get_target(c->k);
	struct kvmdci_stop st;
	int r;

	if (!c->started)
		return -EINVAL;
	if ((r = kvmdci_target_interrupt(t)) < 0 ||
	    (r = kvmdci_target_wait(t, timeout_ms, &st)) <= 0) {
		if (!r) {
			kvmdci_err(kvmdci_kernel_get_ctx(c->k), "the target did not stop");
			r = -ETIMEDOUT;
		}
		return r;
	}
	if ((r = read_all(c, c->end)) < 0)
		return r;
	c->stopped = true;
	return 0;
}

KVMDCI_EXPORT int kvmdci_counters_vcpu_count(const struct kvmdci_counters *c)
{
	return c->nvcpus;
}

KVMDCI_EXPORT int kvmdci_counters_vcpu(const struct kvmdci_counters *c, int i,
				       struct kvmdci_vcpu_info *out)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(c->k));
	if (i < 0 || i >= c->nvcpus)
		return -ERANGE;
	*out = c->vcpus[i];
	return 0;
}

KVMDCI_EXPORT int kvmdci_counters_count(const struct kvmdci_counters *c)
{
	return c->nc;
}

KVMDCI_EXPORT const char *kvmdci_counters_name(const struct kvmdci_counters *c, int i)
{
	return kvmdci_kvm_vcpu_stats_name(c->l, i);
}

KVMDCI_EXPORT int kvmdci_counters_delta(const struct kvmdci_counters *c, int vcpu, int counter,
					uint64_t *delta)
{
	KVMDCI_API_ENTRY(kvmdci_kernel_get_ctx(c->k));
	if (vcpu < -1 || vcpu >= c->nvcpus || counter < 0 || counter >= c->nc)
		return -ERANGE;
	if (!c->stopped)
		return -EINVAL;
	*delta = 0;
	for (int i = vcpu < 0 ? 0 : vcpu; i < (vcpu < 0 ? c->nvcpus : vcpu + 1); i++) {
		size_t at = (size_t)i * (size_t)c->nc + (size_t)counter;
		*delta += c->end[at] - c->start[at];
	}
	return 0;
}
