// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-kernel: what the library knows about the target's kernel, and where it came from. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"

#define MAX_SYMBOLS 256

static struct tool tool = { .name = "kvmdci-kernel" };

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-kernel -t URI [--symbol NAME]... [--json]\n"
		"\n"
		"Builds the kernel view of a KVM host seen through a whole-machine debugger or in a\n"
		"dump, and reports what was found and from where: the kernel release, the KASLR\n"
		"offset, the source of vmlinux symbols (System.map, a vmlinux's ELF symbol table, or\n"
		"the kernel's own kallsyms in memory) and of types (a BTF file or the kernel's BTF in\n"
		"memory), and the loaded modules with their symbols and types. With no kernel files\n"
		"at all, everything is read from the target.\n"
		"\n"
		"  -s, --symbol NAME     also print the address of NAME (vmlinux, or module:name such\n"
		"                        as kvm_amd:svm_handle_exit); repeatable\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Examples:\n"
		"  kvmdci-kernel -t gdb+unix:///tmp/lab/gdb.sock\n"
		"  kvmdci-kernel -t core:///tmp/lab.elf --symbol init_task --json | jq .resolved\n"
		"\n"
		"Exit status: 0 ok, 1 failure (also when a --symbol is not found), 2 bad usage.\n");
}

static const char *kind_name(enum kvmdci_source_kind k)
{
	return k == KVMDCI_SOURCE_FILE ? "file" : k == KVMDCI_SOURCE_MEMORY ? "memory" : "none";
}

static void describe(const struct kvmdci_kernel_source *s, char *buf, size_t sz)
{
	int n = 0;
	if (s->kind == KVMDCI_SOURCE_FILE)
		n = snprintf(buf, sz, "%s %s", s->format, s->path);
	else if (s->kind == KVMDCI_SOURCE_MEMORY)
		n = snprintf(buf, sz, "%s in memory at 0x%" PRIx64, s->format, s->addr);
	else
		n = snprintf(buf, sz, "-");
	if (n < 0 || (size_t)n >= sz)
		return;
	if (s->kind && s->size)
		n += snprintf(buf + n, sz - (size_t)n, ", %" PRIu64 " bytes", s->size);
	if (s->kind && s->count && (size_t)n < sz)
		snprintf(buf + n, sz - (size_t)n, ", %" PRIu64 " %s", s->count,
			 !strcmp(s->format, "BTF") ? "types" : "symbols");
}

static json_t *json_source(const struct kvmdci_kernel_source *s)
{
	if (s->kind == KVMDCI_SOURCE_NONE)
		return json_null();
	json_t *o = json_pack("{s:s, s:s}", "from", kind_name(s->kind), "format", s->format);
	if (s->path)
		json_object_set_new(o, "path", json_string(s->path));
	if (s->kind == KVMDCI_SOURCE_MEMORY)
		json_object_set_new(o, "address", tool_json_addr(s->addr));
	if (s->size)
		json_object_set_new(o, "size", json_integer((json_int_t)s->size));
	json_object_set_new(o, "count", json_integer((json_int_t)s->count));
	return o;
}

static int report(struct kvmdci_kernel *k, const char **syms, int nsyms)
{
	struct kvmdci_kernel_source ss, ts;
	char d1[700], d2[700];
	int status = 0;

	kvmdci_kernel_symbols_source(k, NULL, &ss);
	kvmdci_kernel_types_source(k, NULL, &ts);
	int nm = kvmdci_kernel_module_count(k);
	json_t *doc = NULL, *mods = NULL, *resolved = NULL;

	if (tool.json) {
		doc = json_pack("{s:s, s:s, s:o, s:s, s:o, s:o}", "target", tool.target, "release",
				kvmdci_kernel_release(k), "kaslr_offset",
				tool_json_addr(kvmdci_kernel_kaslr_offset(k)), "kaslr_source",
				kvmdci_kernel_kaslr_source(k), "symbols", json_source(&ss), "types",
				json_source(&ts));
		mods = json_array();
		resolved = json_object();
	} else {
		describe(&ss, d1, sizeof(d1));
		describe(&ts, d2, sizeof(d2));
		printf("release   %s\n", kvmdci_kernel_release(k));
		printf("kaslr     0x%" PRIx64 " (%s)\n", kvmdci_kernel_kaslr_offset(k),
		       kvmdci_kernel_kaslr_source(k));
		printf("symbols   %s\n", d1);
		printf("types     %s\n", d2);
		printf("modules   %d loaded\n", nm);
	}
	for (int i = 0; i < nm; i++) {
		const char *name;
		uint64_t addr;
		struct kvmdci_kernel_source ms, mt;
		if (kvmdci_kernel_module(k, i, &name, &addr) < 0)
			break;
		char bid[129];
		kvmdci_kernel_symbols_source(k, name, &ms);
		kvmdci_kernel_types_source(k, name, &mt);
		bool has_bid = kvmdci_kernel_module_build_id(k, name, bid, sizeof(bid)) == 0;
		if (tool.json) {
			json_array_append_new(mods, json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", name,
							      "address", tool_json_addr(addr),
							      "build_id", has_bid ? json_string(bid)
										  : json_null(),
							      "symbols", json_source(&ms), "types",
							      json_source(&mt)));
			continue;
		}
		describe(&ms, d1, sizeof(d1));
		describe(&mt, d2, sizeof(d2));
		if (ms.kind || mt.kind)
			printf("  %-16s 0x%-18" PRIx64 "\n    symbols  %s\n    types    %s\n", name,
			       addr, d1, d2);
		else
			printf("  %-16s 0x%-18" PRIx64 "\n", name, addr);
		if (has_bid && (ms.kind || mt.kind))
			printf("    build id %s\n", bid);
	}
	for (int i = 0; i < nsyms; i++) {
		uint64_t a;
		int r = kvmdci_kernel_symbol(k, syms[i], &a);
		if (r < 0) {
			fprintf(stderr, "kvmdci-kernel: no symbol %s\n", syms[i]);
			status = 1;
		}
		if (tool.json)
			json_object_set_new(resolved, syms[i], r < 0 ? json_null() : tool_json_addr(a));
		else if (r == 0)
			printf("symbol    %-32s 0x%" PRIx64 "\n", syms[i], a);
	}
	if (tool.json) {
		json_object_set_new(doc, "modules", mods);
		json_object_set_new(doc, "resolved", resolved);
		tool_json_print(&tool, doc);
		json_decref(doc);
	}
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { TOOL_COMMON_LONGOPTS,
					      { "symbol", required_argument, NULL, 's' },
					      { NULL, 0, NULL, 0 } };
	const char *syms[MAX_SYMBOLS];
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	int opt, status, nsyms = 0;

	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS "s:", opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 's':
			if (nsyms == MAX_SYMBOLS) {
				fprintf(stderr, "kvmdci-kernel: at most %d --symbol\n", MAX_SYMBOLS);
				return 2;
			}
			syms[nsyms++] = optarg;
			break;
		default:
			tool_bad_option(&tool);
		}
	}
	tool_no_more_args(&tool, argc, argv, optind);
	if ((status = tool_attach(&tool, &t, &k)) != 0)
		goto out;
	status = report(k, syms, nsyms);
out:
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t); /* detaches: the target runs on */
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
