// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The breakpoint catalog: JSON files (format 1, see kvmdci-catalog(5) and
 * catalog/catalog.schema.json) of useful KVM kernel locations, each with symbol alternatives
 * across kernel versions and capture expressions. Loaded with jansson and validated here so
 * that tools see only well-formed entries.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "config.h"
#include "internal.h"
#include "kernel/kernel-internal.h"
#include "catalog/catalog-internal.h"
#include "catalog/x86-insn.h"

#define MAX_ENTRIES 4096

static int bad(struct kvmdci_ctx *ctx, const char *file, int idx, const char *what)
{
	if (idx >= 0)
		kvmdci_err(ctx, "catalog %s: entry %d: %s", file, idx, what);
	else
		kvmdci_err(ctx, "catalog %s: %s", file, what);
	return -EINVAL;
}

static bool is_string_array(json_t *a, bool nonempty)
{
	size_t i;
	json_t *v;
	if (!json_is_array(a) || (nonempty && json_array_size(a) == 0))
		return false;
	json_array_foreach(a, i, v) if (!json_is_string(v)) return false;
	return true;
}

static int validate_entry(struct kvmdci_ctx *ctx, const char *file, int idx, json_t *e)
{
	static const char *const vendors[] = { "vmx", "svm", "any" };
	json_t *v;
	size_t i;
	char msg[256];

	if (!json_is_object(e))
		return bad(ctx, file, idx, "not an object");
	if (!json_is_string(json_object_get(e, "name")) ||
	    !*json_string_value(json_object_get(e, "name")))
		return bad(ctx, file, idx, "missing \"name\" (a string)");
	if (!json_is_string(json_object_get(e, "description")))
		return bad(ctx, file, idx, "missing \"description\" (a string)");
	v = json_object_get(e, "vendor");
	bool ok = false;
	for (i = 0; json_is_string(v) && i < ARRAY_SIZE(vendors); i++)
		ok |= !strcmp(json_string_value(v), vendors[i]);
	if (!ok)
		return bad(ctx, file, idx, "\"vendor\" must be \"vmx\", \"svm\" or \"any\"");
	if (!json_is_string(json_object_get(e, "module")))
		return bad(ctx, file, idx, "missing \"module\" (vmlinux, kvm, kvm_amd, kvm_intel)");
	if (!is_string_array(json_object_get(e, "symbols"), true))
		return bad(ctx, file, idx, "\"symbols\" must be a non-empty array of strings");
	v = json_object_get(e, "tags");
	if (v && !is_string_array(v, false))
		return bad(ctx, file, idx, "\"tags\" must be an array of strings");
	v = json_object_get(e, "captures");
	if (v) {
		json_t *c;
		if (!json_is_array(v))
			return bad(ctx, file, idx, "\"captures\" must be an array");
		json_array_foreach(v, i, c)
		{
			json_t *ex = json_object_get(c, "expr");
			if (!json_is_object(c) || !json_is_string(json_object_get(c, "name")) ||
			    !(json_is_string(ex) || is_string_array(ex, true))) {
				snprintf(msg, sizeof(msg),
					 "capture %zu needs \"name\" and \"expr\" (a string or a "
					 "list of alternatives)", i);
				return bad(ctx, file, idx, msg);
			}
		}
	}
	v = json_object_get(e, "args");
	if (v && !json_is_array(v))
		return bad(ctx, file, idx, "\"args\" must be an array");
	v = json_object_get(e, "at");
	if (v && !(json_is_string(v) && !strcmp(json_string_value(v), "vmxon")))
		return bad(ctx, file, idx, "\"at\" must be \"vmxon\" (the first VMXON instruction "
					   "of the function)");
	v = json_object_get(e, "inlined_into");
	if (v && !is_string_array(v, true))
		return bad(ctx, file, idx, "\"inlined_into\" must be a non-empty array of strings");
	static const char *const vers[] = { "added", "removed" };
	for (i = 0; i < ARRAY_SIZE(vers); i++) {
		v = json_object_get(e, vers[i]);
		int maj, min;
		if (v && !(json_is_string(v) &&
			   sscanf(json_string_value(v), "%d.%d", &maj, &min) == 2)) {
			snprintf(msg, sizeof(msg), "\"%s\" must be a kernel version \"X.Y\"",
				 vers[i]);
			return bad(ctx, file, idx, msg);
		}
	}
	return 0;
}

static int load_file(struct kvmdci_catalog *cat, const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *entries, *e;
	size_t i;
	int r = 0;

	if (!root) {
		kvmdci_err(cat->ctx, "catalog %s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	json_t *fmt = json_object_get(root, "format");
	if (!json_is_integer(fmt) || json_integer_value(fmt) != 1) {
		json_decref(root);
		return bad(cat->ctx, path, -1, "\"format\" must be 1");
	}
	entries = json_object_get(root, "entries");
	if (!json_is_array(entries)) {
		json_decref(root);
		return bad(cat->ctx, path, -1, "\"entries\" must be an array");
	}
	json_array_foreach(entries, i, e)
	{
		if ((r = validate_entry(cat->ctx, path, (int)i, e)) < 0)
			break;
		const char *name = json_string_value(json_object_get(e, "name"));
		if (catalog_find(cat, name)) {
			kvmdci_err(cat->ctx, "catalog %s: entry %zu: duplicate name %s", path, i, name);
			r = -EINVAL;
			break;
		}
		if (cat->n >= MAX_ENTRIES) {
			r = bad(cat->ctx, path, (int)i, "too many entries");
			break;
		}
		cat->entries[cat->n++] = json_incref(e);
	}
	json_decref(root);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct kvmdci_catalog *cat, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *names[256];
	int n = 0, r = 0;

	if (!d) {
		r = -errno;
		kvmdci_err(cat->ctx, "cannot open catalog directory %s: %s", dir, strerror(errno));
		return r;
	}
	while ((de = readdir(d)) && n < (int)ARRAY_SIZE(names)) {
		size_t l = strlen(de->d_name);
		if (l > 5 && !strcmp(de->d_name + l - 5, ".json") &&
		    strcmp(de->d_name, "catalog.schema.json") != 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	for (int i = 0; i < n; i++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i] ? names[i] : "");
		if (!r && names[i])
			r = load_file(cat, path);
		free(names[i]);
	}
	if (!r && n == 0) {
		kvmdci_err(cat->ctx, "no *.json catalog files in %s", dir);
		r = -ENOENT;
	}
	return r;
}

KVMDCI_EXPORT int kvmdci_catalog_load(struct kvmdci_ctx *ctx, const char *path,
				      struct kvmdci_catalog **ret)
{
	KVMDCI_API_ENTRY(ctx);
	struct kvmdci_catalog *cat;
	struct stat st;
	int r;

	if (!path)
		path = kvmdci_ctx_get_tunable(ctx, KVMDCI_TUNABLE_CATALOG);
	if (!path || !*path) {
		path = KVMDCI_CATALOGDIR;
#ifdef KVMDCI_SOURCE_CATALOG_FALLBACK
		/* no installed catalog: the source tree's (running from a build dir) */
		if (stat(path, &st) < 0)
			path = KVMDCI_SRC_CATALOGDIR;
#endif
	}
	cat = calloc(1, sizeof(*cat));
	if (!cat)
		return -ENOMEM;
	cat->entries = calloc(MAX_ENTRIES, sizeof(*cat->entries));
	if (!cat->entries) {
		free(cat);
		return -ENOMEM;
	}
	cat->refcount = 1;
	cat->ctx = kvmdci_ctx_ref(ctx);
	if (stat(path, &st) < 0) {
		r = -errno;
		kvmdci_err(ctx, "cannot open catalog %s: %s", path, strerror(errno));
	} else if (S_ISDIR(st.st_mode))
		r = load_dir(cat, path);
	else
		r = load_file(cat, path);
	if (r < 0) {
		kvmdci_catalog_unref(cat);
		return r;
	}
	*ret = cat;
	return 0;
}

KVMDCI_EXPORT struct kvmdci_catalog *kvmdci_catalog_ref(struct kvmdci_catalog *cat)
{
	if (cat)
		cat->refcount++;
	return cat;
}

KVMDCI_EXPORT struct kvmdci_catalog *kvmdci_catalog_unref(struct kvmdci_catalog *cat)
{
	if (!cat || --cat->refcount > 0)
		return NULL;
	for (int i = 0; i < cat->n; i++)
		json_decref(cat->entries[i]);
	free(cat->entries);
	kvmdci_ctx_unref(cat->ctx);
	free(cat);
	return NULL;
}

KVMDCI_EXPORT int kvmdci_catalog_count(struct kvmdci_catalog *cat)
{
	return cat->n;
}

KVMDCI_EXPORT const char *kvmdci_catalog_entry_name(struct kvmdci_catalog *cat, int i)
{
	if (i < 0 || i >= cat->n)
		return NULL;
	return json_string_value(json_object_get(cat->entries[i], "name"));
}

json_t *catalog_find(struct kvmdci_catalog *cat, const char *name)
{
	for (int i = 0; i < cat->n; i++)
		if (!strcmp(json_string_value(json_object_get(cat->entries[i], "name")), name))
			return cat->entries[i];
	return NULL;
}

bool catalog_entry_has_tag(json_t *e, const char *tag)
{
	json_t *v;
	size_t i;
	json_array_foreach(json_object_get(e, "tags"), i, v) if (!strcmp(json_string_value(v), tag))
		return true;
	return false;
}

/* @name of @module, or a name that says its own module ("vmlinux:x86_vmx_..."). */
static int symbol_address(struct kvmdci_kernel *k, const char *module, const char *name,
			  uint64_t *addr)
{
	char full[256];

	if (strchr(name, ':'))
		snprintf(full, sizeof(full), "%s", name);
	else
		snprintf(full, sizeof(full), "%s:%s", module, name);
	return kvmdci_kernel_symbol(k, full, addr);
}

int catalog_resolve_symbol(struct kvmdci_kernel *k, json_t *e, uint64_t *addr, const char **which)
{
	const char *module = json_string_value(json_object_get(e, "module"));
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(e, "symbols"), i, v)
	{
		if (symbol_address(k, module, json_string_value(v), addr) == 0) {
			*which = json_string_value(v);
			return 0;
		}
	}
	return -ENOENT;
}

int catalog_entry_bp_any(struct kvmdci_kernel *k, json_t *e, uint64_t *func,
			 const char **symbol, uint64_t *bp, char *operand, size_t oplen, char *err,
			 size_t errsz)
{
	const char *module = json_string_value(json_object_get(e, "module"));
	int r = catalog_entry_bp(k, e, *func, *symbol, bp, operand, oplen, err, errsz);
	json_t *v;
	size_t i;

	if (r == 0 || !json_object_get(e, "at"))
		return r;
	/* the instruction is not in the first function: the next ones that are on the target
	 * (7.2 executes VMXON in the core kernel, not in kvm_intel's enable function) */
	json_array_foreach(json_object_get(e, "symbols"), i, v)
	{
		const char *name = json_string_value(v);
		uint64_t a;
		char e2[256];
		if (!strcmp(name, *symbol) || symbol_address(k, module, name, &a) < 0)
			continue;
		if (catalog_entry_bp(k, e, a, name, bp, operand, oplen, e2, sizeof(e2)) == 0) {
			*func = a;
			*symbol = name;
			return 0;
		}
		kvmdci_info(kvmdci_kernel_get_ctx(k), "%s", e2);
	}
	return r;
}

/* Longest function prefix searched for an "at" instruction. */
#define AT_SCAN_MAX 4096

int catalog_entry_bp(struct kvmdci_kernel *k, json_t *e, uint64_t func, const char *symbol,
		     uint64_t *bp, char *operand, size_t oplen, char *err, size_t errsz)
{
	const char *at = json_string_value(json_object_get(e, "at"));
	/* the function's own name, without the module a catalog symbol may say it is in */
	const char *bare = strchr(symbol, ':') ? strchr(symbol, ':') + 1 : symbol;
	uint8_t code[AT_SCAN_MAX];
	size_t have = 0, off = 0;

	operand[0] = 0;
	if (!at) {
		*bp = catalog_bp_address(k, func);
		return 0;
	}
	/* "vmxon" is the only location kind (validate_entry) */
	while (off < AT_SCAN_MAX) {
		struct x86_insn in;
		int r;
		/* read on demand, 256 bytes at a time: the function may end near a page end */
		while (have < AT_SCAN_MAX && have < off + 16) {
			if (kvmdci_kernel_read(k, func + have, code + have, 256) < 0)
				break;
			have += 256;
		}
		if ((r = x86_insn_decode(code + off, have - off, &in)) < 0) {
			snprintf(err, errsz,
				 "%s+0x%zx (0x%llx): %s while looking for the VMXON instruction", symbol,
				 off, (unsigned long long)(func + off),
				 r == -ENODATA ? "target memory unreadable"
					       : "an instruction this decoder does not know");
			return -ENOENT;
		}
		if (x86_insn_is_vmxon(&in)) {
			char mod[64], fn[128];
			uint64_t fo;
			/* the instruction must be this function's, not a later one's */
			if (kernel_symbolize_parts(k, NULL, func + off, mod, sizeof(mod), fn,
						   sizeof(fn), &fo) == 0 &&
			    (fo != off || strncmp(fn, bare, strlen(bare)) != 0)) {
				snprintf(err, errsz, "no VMXON instruction in %s (the first one after "
						     "it is in %s+0x%llx)",
					 symbol, fn, (unsigned long long)fo);
				return -ENOENT;
			}
			if (x86_insn_operand_expr(&in, func + off, operand, oplen) < 0) {
				snprintf(err, errsz, "%s+0x%zx: VMXON with an operand we cannot "
						     "express (32-bit addressing)", symbol, off);
				return -ENOENT;
			}
			*bp = func + off;
			return 0;
		}
		off += in.len;
	}
	snprintf(err, errsz, "no VMXON instruction in the first %d bytes of %s", AT_SCAN_MAX,
		 symbol);
	return -ENOENT;
}

/* @src with every "$operand" replaced by @operand, in @buf; NULL when it does not fit. */
static const char *with_operand(const char *src, const char *operand, char *buf, size_t len)
{
	const char *p = src, *q;
	size_t n = 0;

	if (!operand || !operand[0] || !strstr(src, "$operand"))
		return src;
	while ((q = strstr(p, "$operand"))) {
		size_t a = (size_t)(q - p), b = strlen(operand);
		if (n + a + b + 1 > len)
			return NULL;
		memcpy(buf + n, p, a);
		memcpy(buf + n + a, operand, b);
		n += a + b;
		p = q + 8;
	}
	if (n + strlen(p) + 1 > len)
		return NULL;
	strcpy(buf + n, p);
	return buf;
}

int catalog_compile_capture(struct kvmdci_kernel *k, json_t *e, const char *capture,
			    struct expr_prog *prog, const char **which, char *err, size_t errsz)
{
	return catalog_compile_capture_at(k, e, capture, NULL, prog, which, err, errsz);
}

int catalog_compile_capture_at(struct kvmdci_kernel *k, json_t *e, const char *capture,
			       const char *operand, struct expr_prog *prog, const char **which,
			       char *err, size_t errsz)
{
	json_t *c, *ex;
	size_t i;
	int r = -ENOENT;
	char sub[512];

	snprintf(err, errsz, "entry %s has no capture %s",
		 json_string_value(json_object_get(e, "name")), capture);
	json_array_foreach(json_object_get(e, "captures"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "name")), capture) != 0)
			continue;
		ex = json_object_get(c, "expr");
		const char *src;
		if (json_is_string(ex)) {
			if (!(src = with_operand(json_string_value(ex), operand, sub, sizeof(sub))))
				return -EINVAL;
			return expr_compile(k, src, prog, err, errsz) == 0
				       ? (*which = json_string_value(ex), 0)
				       : -EINVAL;
		}
		json_t *alt;
		size_t j;
		/* alternatives in order: the first that compiles against this kernel's types */
		json_array_foreach(ex, j, alt)
		{
			if (!(src = with_operand(json_string_value(alt), operand, sub, sizeof(sub))))
				continue;
			if (expr_compile(k, src, prog, err, errsz) == 0) {
				*which = json_string_value(alt);
				return 0;
			}
			r = -EINVAL;
		}
	}
	return r;
}

KVMDCI_EXPORT int kvmdci_catalog_find(struct kvmdci_catalog *cat, const char *name)
{
	KVMDCI_API_ENTRY(cat->ctx);
	for (int i = 0; i < cat->n; i++)
		if (!strcmp(json_string_value(json_object_get(cat->entries[i], "name")), name))
			return i;
	return -ENOENT;
}

KVMDCI_EXPORT char *kvmdci_catalog_entry_json(struct kvmdci_catalog *cat, int i)
{
	if (i < 0 || i >= cat->n)
		return NULL;
	return json_dumps(cat->entries[i], JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}

KVMDCI_EXPORT const char *kvmdci_catalog_entry_field(struct kvmdci_catalog *cat, int i,
						     const char *field)
{
	if (i < 0 || i >= cat->n)
		return NULL;
	return json_string_value(json_object_get(cat->entries[i], field));
}

/* "X.Y..." as X * 1000 + Y, or -1 */
static int version_code(const char *s)
{
	int maj, min;
	return s && sscanf(s, "%d.%d", &maj, &min) == 2 ? maj * 1000 + min : -1;
}

/*
 * Why an entry whose symbols are all absent does not apply to this target, if it does not:
 * the target's kernel version is outside the catalog's own "added"/"removed" range, or the
 * function is one the catalog knows the compiler may inline ("inlined_into") and one of its
 * callers is on the target while the function has no out-of-line copy (so the code is there,
 * only not as a function a breakpoint could name).
 */
static bool entry_not_expected(struct kvmdci_kernel *k, json_t *e, char *why, size_t len)
{
	const char *module = json_string_value(json_object_get(e, "module"));
	const char *release = kvmdci_kernel_release(k);
	const char *added = json_string_value(json_object_get(e, "added"));
	const char *removed = json_string_value(json_object_get(e, "removed"));
	int have = version_code(release);
	json_t *v;
	size_t i;

	if (have >= 0 && added && have < version_code(added)) {
		snprintf(why, len, "added in %s (catalog), the target runs %.60s: no symbol", added,
			 release);
		return true;
	}
	if (have >= 0 && removed && have >= version_code(removed)) {
		snprintf(why, len, "removed in %s (catalog), the target runs %.60s: no symbol",
			 removed, release);
		return true;
	}
	json_array_foreach(json_object_get(e, "inlined_into"), i, v)
	{
		char full[256];
		uint64_t addr;
		snprintf(full, sizeof(full), "%s:%s", module, json_string_value(v));
		if (kvmdci_kernel_symbol(k, full, &addr) == 0) {
			snprintf(why, len,
				 "inlined: no out-of-line copy of %.60s on the target; its caller "
				 "%.100s is at 0x%llx",
				 json_string_value(json_array_get(json_object_get(e, "symbols"), 0)),
				 full, (unsigned long long)addr);
			return true;
		}
	}
	return false;
}

KVMDCI_EXPORT int kvmdci_catalog_check_entry(struct kvmdci_catalog *cat, struct kvmdci_kernel *k,
					     int i, struct kvmdci_entry_check *out)
{
	KVMDCI_API_ENTRY(cat->ctx);
	json_t *e, *c;
	const char *vendor, *module;
	size_t j;

	if (i < 0 || i >= cat->n)
		return -EINVAL;
	e = cat->entries[i];
	memset(out, 0, sizeof(*out));
	vendor = json_string_value(json_object_get(e, "vendor"));
	module = json_string_value(json_object_get(e, "module"));
	/* the vendor module the target runs, from the kernel view */
	const char *running = kernel_kvm_vendor_module(k);
	if ((!strcmp(vendor, "vmx") && !(running && !strcmp(running, "kvm_intel"))) ||
	    (!strcmp(vendor, "svm") && !(running && !strcmp(running, "kvm_amd")))) {
		out->status = KVMDCI_ENTRY_NOT_APPLICABLE;
		snprintf(out->reason, sizeof(out->reason), "for %s; the target runs %s", vendor,
			 running ? running : "neither");
		return 0;
	}
	if (strcmp(module, "vmlinux") != 0 && !kvmdci_kernel_has_module(k, module)) {
		out->status = KVMDCI_ENTRY_MODULE_NOT_LOADED;
		snprintf(out->reason, sizeof(out->reason), "module %s is not loaded", module);
		return 0;
	}
	if (catalog_resolve_symbol(k, e, &out->addr, &out->symbol) < 0) {
		/* Presence is decided by the symbols (a backport can bring a function into an
		 * older stable kernel); only an entry that is absent can be not applicable. */
		if (entry_not_expected(k, e, out->reason, sizeof(out->reason))) {
			out->status = KVMDCI_ENTRY_NOT_APPLICABLE;
			return 0;
		}
		const char *added = json_string_value(json_object_get(e, "added"));
		const char *removed = json_string_value(json_object_get(e, "removed"));
		out->status = KVMDCI_ENTRY_ABSENT;
		snprintf(out->reason, sizeof(out->reason),
			 "no symbol on the target: inlined, renamed or removed%s%s%s%s%s",
			 added || removed ? " (catalog notes:" : "", added ? " added in " : "",
			 added ? added : "", removed ? " removed in " : "", removed ? removed : "");
		if (added || removed)
			strncat(out->reason, ")", sizeof(out->reason) - strlen(out->reason) - 1);
		return 0;
	}
	char operand[128], err[256];
	uint64_t bp;
	if (catalog_entry_bp_any(k, e, &out->addr, &out->symbol, &bp, operand, sizeof(operand),
				 err, sizeof(err)) < 0) {
		out->status = KVMDCI_ENTRY_ABSENT;
		snprintf(out->reason, sizeof(out->reason), "%s", err);
		return 0;
	}
	if (operand[0])
		snprintf(out->reason, sizeof(out->reason), "at %s+0x%llx, operand %s", out->symbol,
			 (unsigned long long)(bp - out->addr), operand);
	out->status = KVMDCI_ENTRY_RESOLVED;
	json_array_foreach(json_object_get(e, "captures"), j, c)
	{
		struct expr_prog prog;
		const char *which;
		const char *cname = json_string_value(json_object_get(c, "name"));
		out->captures_total++;
		if (catalog_compile_capture_at(k, e, cname, operand, &prog, &which, err,
					       sizeof(err)) == 0) {
			out->captures_ok++;
			continue;
		}
		if (out->status == KVMDCI_ENTRY_RESOLVED) {
			out->status = KVMDCI_ENTRY_CAPTURE_ERROR;
			snprintf(out->reason, sizeof(out->reason), "capture %.40s: %.200s", cname, err);
		}
	}
	return 0;
}

KVMDCI_EXPORT const char *kvmdci_entry_status_name(enum kvmdci_entry_status s)
{
	switch (s) {
	case KVMDCI_ENTRY_RESOLVED:
		return "resolved";
	case KVMDCI_ENTRY_NOT_APPLICABLE:
		return "not-applicable";
	case KVMDCI_ENTRY_MODULE_NOT_LOADED:
		return "module-not-loaded";
	case KVMDCI_ENTRY_ABSENT:
		return "absent";
	case KVMDCI_ENTRY_CAPTURE_ERROR:
		return "capture-error";
	}
	return "?";
}
