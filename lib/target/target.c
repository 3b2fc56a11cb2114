// SPDX-License-Identifier: LGPL-2.1-or-later
/* The public target API: opens the backend a URI names and forwards to its operations. */
#include <stdlib.h>

#include "internal.h"
#include "target/target-internal.h"

struct kvmdci_target {
	int refcount;
	struct kvmdci_ctx *ctx;
	char *uri;
	const struct target_ops *ops;
	void *priv;
	uint64_t generation; /* bumped whenever the target may have run: see target_generation() */
	struct kvmdci_stop last_stop; /* the last stop kvmdci_target_wait() reported */
	uint64_t last_stop_gen;	      /* the generation it began, 0: none yet */
};

uint64_t target_generation(struct kvmdci_target *t)
{
	return t->generation;
}

struct kvmdci_stop *target_stop_record(struct kvmdci_target *t)
{
	return t->last_stop_gen ? &t->last_stop : NULL;
}

const struct kvmdci_stop *target_last_stop(struct kvmdci_target *t, uint64_t *gen)
{
	*gen = t->last_stop_gen;
	return t->last_stop_gen ? &t->last_stop : NULL;
}

bool target_has_run_control(struct kvmdci_target *t)
{
	return t->ops->resume != NULL;
}

int target_read_virt_many(struct kvmdci_target *t, int cpu, struct target_read *rq, int n)
{
	if (t->ops->read_virt_many)
		return t->ops->read_virt_many(t->priv, cpu, rq, n);
	for (int i = 0; i < n; i++)
		rq[i].result = t->ops->read_virt(t->priv, cpu, rq[i].addr, rq[i].buf, rq[i].len);
	return 0;
}

int target_regs_read_many(struct kvmdci_target *t, int cpu, const char *const *names,
			  uint64_t *vals, int n, struct target_read *rq, int nrq)
{
	int r, m;

	if (t->ops->regs_read_many)
		return t->ops->regs_read_many(t->priv, cpu, names, vals, n, rq, nrq);
	r = t->ops->regs_read(t->priv, cpu, names, vals, n);
	if (nrq && (m = target_read_virt_many(t, cpu, rq, nrq)) < 0)
		return m;
	return r;
}

uint32_t target_link_rate(struct kvmdci_target *t)
{
	return t->ops->link_rate ? t->ops->link_rate(t->priv) : 0;
}

struct kvmdci_ctx *kvmdci_target_get_ctx(struct kvmdci_target *t)
{
	return t->ctx;
}

KVMDCI_EXPORT int kvmdci_target_open(struct kvmdci_ctx *ctx, const char *uri,
				     struct kvmdci_target **ret)
{
	KVMDCI_API_ENTRY(ctx);
	struct target_uri u;
	struct kvmdci_target *t;
	char err[600];
	int r;

	r = target_uri_parse(uri, &u, err, sizeof(err));
	if (r < 0) {
		kvmdci_err(ctx, "%s", err);
		return r;
	}
	kvmdci_clear_cause(ctx); /* a new connection: an old one's loss no longer explains */
	t = calloc(1, sizeof(*t));
	if (!t || !(t->uri = strdup(uri))) {
		free(t);
		return -ENOMEM;
	}
	t->refcount = 1;
	t->ctx = kvmdci_ctx_ref(ctx);
	switch (u.kind) {
	case URI_GDB_TCP:
	case URI_GDB_UNIX:
	case URI_SERIAL:
	case URI_USB:
		t->ops = &rsp_target_ops;
		r = rsp_target_open(ctx, uri, &u, &t->priv);
		break;
	case URI_CORE:
		t->ops = &core_target_ops;
		r = core_target_open(ctx, u.path, &t->priv);
		/* a kdump-compressed file: core.c said so, libkdumpfile reads it */
		if (r == -EPROTOTYPE) {
			t->ops = &kdump_target_ops;
			r = kdump_target_open(ctx, u.path, &t->priv);
		}
		break;
	case URI_KCORE:
		t->ops = &kcore_target_ops;
		r = kcore_target_open(ctx, u.path, &t->priv);
		break;
	default:
		r = -EINVAL;
	}
	if (r < 0) {
		kvmdci_ctx_unref(t->ctx);
		free(t->uri);
		free(t);
		return r;
	}
	*ret = t;
	return 0;
}

int target_wrap(struct kvmdci_ctx *ctx, const char *uri, const struct target_ops *ops,
		void *priv, struct kvmdci_target **ret)
{
	struct kvmdci_target *t = calloc(1, sizeof(*t));

	if (!t || !(t->uri = strdup(uri))) {
		free(t);
		ops->free(priv);
		return -ENOMEM;
	}
	t->refcount = 1;
	t->ctx = kvmdci_ctx_ref(ctx);
	t->ops = ops;
	t->priv = priv;
	*ret = t;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_target *kvmdci_target_ref(struct kvmdci_target *t)
{
	if (t)
		t->refcount++;
	return t;
}

KVMDCI_EXPORT struct kvmdci_target *kvmdci_target_unref(struct kvmdci_target *t)
{
	if (!t || --t->refcount > 0)
		return NULL;
	t->ops->free(t->priv);
	kvmdci_ctx_unref(t->ctx);
	free(t->uri);
	free(t);
	return NULL;
}

KVMDCI_EXPORT const char *kvmdci_target_get_uri(struct kvmdci_target *t)
{
	return t->uri;
}

KVMDCI_EXPORT int kvmdci_target_cpu_count(struct kvmdci_target *t)
{
	return t->ops->cpu_count(t->priv);
}

KVMDCI_EXPORT void kvmdci_target_get_stats(struct kvmdci_target *t,
					   struct kvmdci_target_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	if (t->ops->get_stats)
		t->ops->get_stats(t->priv, stats);
}

KVMDCI_EXPORT int kvmdci_target_regs_read(struct kvmdci_target *t, int cpu,
					  const char *const *names, uint64_t *vals, int n)
{
	KVMDCI_API_ENTRY(t->ctx);
	return t->ops->regs_read(t->priv, cpu, names, vals, n);
}

KVMDCI_EXPORT int kvmdci_target_reg_read(struct kvmdci_target *t, int cpu, const char *name,
					 uint64_t *val)
{
	KVMDCI_API_ENTRY(t->ctx);
	return t->ops->regs_read(t->priv, cpu, &name, val, 1);
}

/* A dump has no run control: say so clearly. */
static int no_run_control(struct kvmdci_target *t)
{
	kvmdci_err(t->ctx, "%s: a %s target cannot run, stop or take breakpoints", t->uri,
		   t->ops->name);
	return -EOPNOTSUPP;
}

KVMDCI_EXPORT int kvmdci_target_reg_write(struct kvmdci_target *t, int cpu, const char *name,
					  uint64_t val)
{
	KVMDCI_API_ENTRY(t->ctx);
	if (!t->ops->reg_write)
		return no_run_control(t);
	return t->ops->reg_write(t->priv, cpu, name, val);
}

KVMDCI_EXPORT int kvmdci_target_read_virt(struct kvmdci_target *t, int cpu, uint64_t addr,
					  void *buf, size_t len)
{
	KVMDCI_API_ENTRY(t->ctx);
	return t->ops->read_virt(t->priv, cpu, addr, buf, len);
}

KVMDCI_EXPORT int kvmdci_target_read_phys(struct kvmdci_target *t, uint64_t addr, void *buf,
					  size_t len)
{
	KVMDCI_API_ENTRY(t->ctx);
	return t->ops->read_phys(t->priv, addr, buf, len);
}

KVMDCI_EXPORT int kvmdci_target_bp_insert(struct kvmdci_target *t, enum kvmdci_bp_kind kind,
					  uint64_t addr, unsigned int len)
{
	KVMDCI_API_ENTRY(t->ctx);
	if (!t->ops->bp_insert)
		return no_run_control(t);
	return t->ops->bp_insert(t->priv, kind, addr, len);
}

KVMDCI_EXPORT int kvmdci_target_bp_remove(struct kvmdci_target *t, enum kvmdci_bp_kind kind,
					  uint64_t addr, unsigned int len)
{
	KVMDCI_API_ENTRY(t->ctx);
	if (!t->ops->bp_remove)
		return no_run_control(t);
	return t->ops->bp_remove(t->priv, kind, addr, len);
}

KVMDCI_EXPORT int kvmdci_target_bp_remove_all(struct kvmdci_target *t)
{
	KVMDCI_API_ENTRY(t->ctx);
	return t->ops->bp_remove_all ? t->ops->bp_remove_all(t->priv) : 0;
}

KVMDCI_EXPORT int kvmdci_target_bp_count(struct kvmdci_target *t)
{
	return t->ops->bp_count ? t->ops->bp_count(t->priv) : 0;
}

KVMDCI_EXPORT int kvmdci_target_resume(struct kvmdci_target *t)
{
	KVMDCI_API_ENTRY(t->ctx);
	if (!t->ops->resume)
		return no_run_control(t);
	t->generation++;
	return t->ops->resume(t->priv);
}

KVMDCI_EXPORT int kvmdci_target_step_over(struct kvmdci_target *t, int cpu, uint64_t addr)
{
	KVMDCI_API_ENTRY(t->ctx);
	if (!t->ops->step_over)
		return no_run_control(t);
	t->generation++;
	return t->ops->step_over(t->priv, cpu, addr);
}

KVMDCI_EXPORT int kvmdci_target_wait(struct kvmdci_target *t, int timeout_ms,
				     struct kvmdci_stop *stop)
{
	KVMDCI_API_ENTRY(t->ctx);
	if (!t->ops->wait)
		return no_run_control(t);
	struct kvmdci_stop st;
	int r = t->ops->wait(t->priv, timeout_ms, stop ? stop : &st);
	t->generation++; /* stopped (or still running): memory read before is stale */
	if (r > 0) {
		t->last_stop = stop ? *stop : st;
		t->last_stop_gen = t->generation;
	}
	return r;
}

KVMDCI_EXPORT int kvmdci_target_interrupt(struct kvmdci_target *t)
{
	KVMDCI_API_ENTRY(t->ctx);
	return t->ops->interrupt ? t->ops->interrupt(t->priv) : 0;
}

KVMDCI_EXPORT int kvmdci_target_is_running(struct kvmdci_target *t)
{
	return t->ops->is_running ? t->ops->is_running(t->priv) : 0;
}

KVMDCI_EXPORT int kvmdci_target_has_run_control(struct kvmdci_target *t)
{
	return t->ops->resume && t->ops->bp_insert ? 1 : 0;
}

KVMDCI_EXPORT int kvmdci_target_detach(struct kvmdci_target *t)
{
	KVMDCI_API_ENTRY(t->ctx);
	t->generation++;
	return t->ops->detach ? t->ops->detach(t->priv) : 0;
}

KVMDCI_EXPORT int kvmdci_target_set_detach_mode(struct kvmdci_target *t,
						enum kvmdci_detach_mode mode)
{
	KVMDCI_API_ENTRY(t->ctx);
	if (mode != KVMDCI_DETACH_AUTO && mode != KVMDCI_DETACH_RESUME &&
	    mode != KVMDCI_DETACH_STAY)
		return -EINVAL;
	if (!t->ops->set_detach_mode)
		return -EOPNOTSUPP;
	return t->ops->set_detach_mode(t->priv, mode);
}

KVMDCI_EXPORT int kvmdci_target_was_held(struct kvmdci_target *t)
{
	KVMDCI_API_ENTRY(t->ctx);
	return t->ops->was_held ? t->ops->was_held(t->priv) : -EOPNOTSUPP;
}

const char *target_vmcoreinfo(struct kvmdci_target *t)
{
	return t->ops->vmcoreinfo ? t->ops->vmcoreinfo(t->priv) : NULL;
}

KVMDCI_EXPORT const char *kvmdci_target_vmcoreinfo(struct kvmdci_target *t)
{
	return target_vmcoreinfo(t);
}
