// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Exit counts aggregated: the rows of a tracing run are (vCPU, reason, count); people want
 * them per reason over the whole run, per VM and per vCPU (kvmdci-exits' tables). Each scope
 * is built once by sorting the rows by (group key, code), so a run with many vCPUs and reasons
 * costs n log n, and groups keep the order in which their first row came.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "kvm/kvm-internal.h"

struct group {
	struct kvmdci_exit_group info;
	int first; /* index of the group's first row: the groups' order */
	struct kvmdci_exit_reason_count *reasons;
};

struct scope {
	struct group *groups;
	int n;
};

struct kvmdci_exit_stats {
	int refcount;
	struct scope scopes[3]; /* by enum kvmdci_exit_scope */
};

struct entry {
	uint64_t key;
	uint64_t code;
	uint64_t count;
	int index;
};

static int by_key_code(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->code != y->code)
		return x->code < y->code ? -1 : 1;
	return x->index - y->index;
}

static int by_count(const void *a, const void *b)
{
	const struct kvmdci_exit_reason_count *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->code < y->code ? -1 : x->code > y->code;
}

static int by_first(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	return x->first - y->first;
}

static uint64_t key_of(enum kvmdci_exit_scope scope, const struct kvmdci_exit_count *r)
{
	return scope == KVMDCI_EXIT_SCOPE_VM	 ? r->vm
	       : scope == KVMDCI_EXIT_SCOPE_VCPU ? r->vcpu
						 : 0;
}

static void scope_free(struct scope *sc)
{
	for (int i = 0; i < sc->n; i++)
		free(sc->groups[i].reasons);
	free(sc->groups);
	sc->groups = NULL;
	sc->n = 0;
}

/* The identity of a group comes from its first row, as the rows say it. */
static void group_identity(enum kvmdci_exit_scope scope, const struct kvmdci_exit_count *r,
			   struct kvmdci_exit_group *g)
{
	g->vm_pid = -1;
	g->vcpu_id = -1;
	if (scope == KVMDCI_EXIT_SCOPE_ALL || !r)
		return;
	g->vm = r->vm;
	g->vm_pid = r->vm_pid;
	if (scope == KVMDCI_EXIT_SCOPE_VCPU) {
		g->vcpu = r->vcpu;
		g->vcpu_id = r->vcpu_id;
	}
}

static int build(struct scope *sc, enum kvmdci_exit_scope scope,
		 const struct kvmdci_exit_count *rows, int n)
{
	struct entry *e = calloc((size_t)n + 1, sizeof(*e));
	int r = -ENOMEM;

	sc->groups = calloc((size_t)n + 1, sizeof(*sc->groups));
	if (!e || !sc->groups)
		goto out;
	for (int i = 0; i < n; i++)
		e[i] = (struct entry){key_of(scope, &rows[i]), rows[i].code, rows[i].count, i};
	qsort(e, (size_t)n, sizeof(*e), by_key_code);
	for (int i = 0; i < n;) {
		int j = i, nr = 0;
		struct group *g = &sc->groups[sc->n];
		while (j < n && e[j].key == e[i].key)
			j++;
		g->reasons = calloc((size_t)(j - i), sizeof(*g->reasons));
		if (!g->reasons)
			goto out;
		sc->n++;
		g->first = e[i].index;
		for (int m = i; m < j; m++) {
			if (e[m].index < g->first)
				g->first = e[m].index;
			if (!nr || g->reasons[nr - 1].code != e[m].code)
				g->reasons[nr++].code = e[m].code;
			g->reasons[nr - 1].count += e[m].count;
			g->info.total += e[m].count;
		}
		qsort(g->reasons, (size_t)nr, sizeof(*g->reasons), by_count);
		g->info.reasons = nr;
		i = j;
	}
	if (scope == KVMDCI_EXIT_SCOPE_ALL && !sc->n)
		sc->n = 1; /* no rows: one empty group */
	qsort(sc->groups, (size_t)sc->n, sizeof(*sc->groups), by_first);
	for (int i = 0; i < sc->n; i++)
		group_identity(scope, n ? &rows[sc->groups[i].first] : NULL, &sc->groups[i].info);
	r = 0;
out:
	free(e);
	return r;
}

KVMDCI_EXPORT int kvmdci_exit_stats_new(const struct kvmdci_exit_count *rows, int n,
					struct kvmdci_exit_stats **ret)
{
	struct kvmdci_exit_stats *s;
	int r = 0;

	if (n < 0 || (!rows && n > 0))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->refcount = 1;
	for (int sc = KVMDCI_EXIT_SCOPE_ALL; sc <= KVMDCI_EXIT_SCOPE_VCPU && !r; sc++)
		r = build(&s->scopes[sc], (enum kvmdci_exit_scope)sc, rows, n);
	if (r < 0) {
		s->refcount = 1;
		kvmdci_exit_stats_unref(s);
		return r;
	}
	*ret = s;
	return 0;
}

KVMDCI_EXPORT int kvmdci_exits_stats(struct kvmdci_exits *e, struct kvmdci_exit_stats **ret)
{
	KVMDCI_API_ENTRY(kvmdci_exits_get_ctx(e));
	int n = kvmdci_exits_counts(e, NULL, 0);
	struct kvmdci_exit_count *rows = calloc((size_t)n + 1, sizeof(*rows));
	int r;

	if (!rows)
		return -ENOMEM;
	n = kvmdci_exits_counts(e, rows, n);
	r = kvmdci_exit_stats_new(rows, n, ret);
	free(rows);
	return r;
}

KVMDCI_EXPORT struct kvmdci_exit_stats *kvmdci_exit_stats_ref(struct kvmdci_exit_stats *s)
{
	if (s)
		s->refcount++;
	return s;
}

KVMDCI_EXPORT struct kvmdci_exit_stats *kvmdci_exit_stats_unref(struct kvmdci_exit_stats *s)
{
	if (!s || --s->refcount > 0)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(s->scopes); i++)
		scope_free(&s->scopes[i]);
	free(s);
	return NULL;
}

static const struct scope *scope_get(const struct kvmdci_exit_stats *s,
				     enum kvmdci_exit_scope scope)
{
	if ((int)scope < KVMDCI_EXIT_SCOPE_ALL || scope > KVMDCI_EXIT_SCOPE_VCPU)
		return NULL;
	return &s->scopes[scope];
}

KVMDCI_EXPORT int kvmdci_exit_stats_group_count(const struct kvmdci_exit_stats *s,
						enum kvmdci_exit_scope scope)
{
	const struct scope *sc = scope_get(s, scope);

	return sc ? sc->n : -EINVAL;
}

KVMDCI_EXPORT int kvmdci_exit_stats_group(const struct kvmdci_exit_stats *s,
					  enum kvmdci_exit_scope scope, int g,
					  struct kvmdci_exit_group *out)
{
	const struct scope *sc = scope_get(s, scope);

	if (!sc)
		return -EINVAL;
	if (g < 0 || g >= sc->n)
		return -ERANGE;
	*out = sc->groups[g].info;
	return 0;
}

KVMDCI_EXPORT int kvmdci_exit_stats_reason(const struct kvmdci_exit_stats *s,
					   enum kvmdci_exit_scope scope, int g, int i,
					   struct kvmdci_exit_reason_count *out)
{
	const struct scope *sc = scope_get(s, scope);

	if (!sc)
		return -EINVAL;
	if (g < 0 || g >= sc->n || i < 0 || i >= sc->groups[g].info.reasons)
		return -ERANGE;
	*out = sc->groups[g].reasons[i];
	return 0;
}

void kvm_exit_share(double rest, uint64_t n, uint64_t n_u, int windows, double s_nn, double s_nN,
		    double s_NN, double *est, double *err)
{
	double p = n_u ? (double)n / (double)n_u : 0, var;

	*est = rest * p;
	if (!n_u) {
		*err = 0;
		return;
	}
	if (windows >= 2) {
		/* a ratio estimator over clusters: sum over windows of (n_k - p N_k)^2, scaled */
		double k = windows, ss = s_nn - 2 * p * s_nN + p * p * s_NN;
		var = ss > 0 ? k / (k - 1) * ss / ((double)n_u * (double)n_u) : 0;
	} else {
		var = p * (1 - p) / (double)n_u;
	}
	*err = 1.96 * rest * sqrt(var);
	/* reasons the sample never saw may hold up to 3 / n_u of the rest (95%, the rule of
	 * three): a seen reason's share is that uncertain at least */
	if (*err < rest * 3 / (double)n_u)
		*err = rest * 3 / (double)n_u;
}
