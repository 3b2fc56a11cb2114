// SPDX-License-Identifier: LGPL-2.1-or-later
/* kvmdci-catalog: list, show and check the breakpoint catalog against a target. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"

static struct tool tool = { .name = "kvmdci-catalog" };

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmdci-catalog list [--tag TAG] [--vendor vmx|svm|any]\n"
		"       kvmdci-catalog show NAME\n"
		"       kvmdci-catalog check -t URI [--all]\n"
		"\n"
		"The catalog holds useful KVM breakpoints (kvmdci-catalog(5)): symbol alternatives\n"
		"across kernel versions and capture expressions. 'check' resolves every entry\n"
		"against a target's symbols and types and says per entry: the address and which\n"
		"alternative matched, whether its captures compile, or why not (module not loaded,\n"
		"absent: inlined/renamed/removed, a type or member missing). Entries that do not\n"
		"apply to the target are 'not-applicable', with the reason, and do not fail the\n"
		"check: for the other vendor; no symbol and the kernel outside the entry's\n"
		"added/removed range; no symbol but a function it is inlined into (inlined_into)\n"
		"is there. A symbol that exists always resolves. --all lists them too.\n"
		"Exit status of check: 0 when every applicable entry resolves, 1 otherwise.\n"
		"\n" TOOL_COMMON_HELP "\n"
		"Examples:\n"
		"  kvmdci-catalog list --tag io\n"
		"  kvmdci-catalog show write_exit_mmio\n"
		"  eval \"$(kvmdci-lab env)\"; kvmdci-catalog check\n");
}

static bool has_tag(struct kvmdci_catalog *cat, int i, const char *tag)
{
	char *js = kvmdci_catalog_entry_json(cat, i);
	json_t *e = js ? json_loads(js, 0, NULL) : NULL, *v;
	size_t j;
	bool found = false;
	free(js);
	json_array_foreach(json_object_get(e, "tags"), j, v) found |= !strcmp(json_string_value(v), tag);
	json_decref(e);
	return found;
}

/* The name column is as wide as the longest entry name (a fixed 34 let
 * cpu_emergency_disable_virtualization push its row out of line). */
static int name_width(struct kvmdci_catalog *cat)
{
	int w = 4;

	for (int i = 0; i < kvmdci_catalog_count(cat); i++) {
		int n = (int)strlen(kvmdci_catalog_entry_name(cat, i));
		if (n > w)
			w = n;
	}
	return w;
}

/* Whether the catalog notes that entry @i comes and goes between kernels ("added" or
 * "removed"): then its absence is expected, and it does not count as applicable. Presence
 * itself is still decided by the target's symbols only. */
static bool comes_and_goes(struct kvmdci_catalog *cat, int i)
{
	char *js = kvmdci_catalog_entry_json(cat, i);
	json_t *e = js ? json_loads(js, 0, NULL) : NULL;
	bool r = json_object_get(e, "added") || json_object_get(e, "removed");
	free(js);
	json_decref(e);
	return r;
}

static int cmd_list(struct kvmdci_catalog *cat, const char *tag, const char *vendor)
{
	json_t *arr = json_array();
	int w = name_width(cat);
	for (int i = 0; i < kvmdci_catalog_count(cat); i++) {
		const char *v = kvmdci_catalog_entry_field(cat, i, "vendor");
		if ((tag && !has_tag(cat, i, tag)) || (vendor && strcmp(v, vendor) != 0))
			continue;
		if (tool.json) {
			char *js = kvmdci_catalog_entry_json(cat, i);
			json_array_append_new(arr, json_loads(js, 0, NULL));
			free(js);
		} else {
			printf("%-*s %-4s %-10s %s\n", w, kvmdci_catalog_entry_name(cat, i), v,
			       kvmdci_catalog_entry_field(cat, i, "module"),
			       kvmdci_catalog_entry_field(cat, i, "hit") ?: "");
		}
	}
	if (tool.json) {
		json_t *doc = json_pack("{s:o}", "entries", arr);
		tool_json_print(&tool, doc);
		json_decref(doc);
	} else {
		json_decref(arr);
	}
	return 0;
}

static int cmd_show(struct kvmdci_catalog *cat, const char *name)
{
	int i = kvmdci_catalog_find(cat, name);
	char *js;
	if (i < 0) {
		fprintf(stderr, "kvmdci-catalog: no entry %s (kvmdci-catalog list shows them)\n", name);
		return 1;
	}
	js = kvmdci_catalog_entry_json(cat, i);
	printf("%s\n", js);
	free(js);
	return 0;
}

static int cmd_check(struct kvmdci_catalog *cat, bool all)
{
	struct kvmdci_target *t = NULL;
	struct kvmdci_kernel *k = NULL;
	int r, applicable = 0, resolved = 0, status = 0;
	json_t *rows = json_array();

	if ((r = kvmdci_target_open(tool.ctx, tool.target, &t)) < 0 ||
	    (r = kvmdci_kernel_open(t, &tool.files, &k)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	for (int i = 0; i < kvmdci_catalog_count(cat); i++) {
		struct kvmdci_entry_check c;
		if ((r = kvmdci_catalog_check_entry(cat, k, i, &c)) < 0) {
			status = tool_fail(&tool, r, NULL);
			goto out;
		}
		bool expected_absent = c.status == KVMDCI_ENTRY_ABSENT && comes_and_goes(cat, i);
		bool na = c.status == KVMDCI_ENTRY_NOT_APPLICABLE || expected_absent;
		if (!na) {
			applicable++;
			resolved += c.status == KVMDCI_ENTRY_RESOLVED;
		}
		if (c.status == KVMDCI_ENTRY_NOT_APPLICABLE && !all)
			continue;
		const char *st = kvmdci_entry_status_name(c.status);
		if (tool.json) {
			json_t *row = json_pack("{s:s, s:s}", "name", kvmdci_catalog_entry_name(cat, i),
						"status", st);
			if (c.symbol) {
				json_object_set_new(row, "symbol", json_string(c.symbol));
				json_object_set_new(row, "address", tool_json_addr(c.addr));
				json_object_set_new(row, "captures_ok", json_integer(c.captures_ok));
				json_object_set_new(row, "captures", json_integer(c.captures_total));
			}
			if (c.reason[0])
				json_object_set_new(row, "reason", json_string(c.reason));
			if (c.status == KVMDCI_ENTRY_ABSENT)
				json_object_set_new(row, "applicable", json_boolean(!expected_absent));
			json_array_append_new(rows, row);
		} else if (c.symbol) {
			printf("%-*s %-14s %-30s 0x%llx  captures %d/%d%s%s\n", name_width(cat),
			       kvmdci_catalog_entry_name(cat, i), st, c.symbol,
			       (unsigned long long)c.addr, c.captures_ok, c.captures_total,
			       c.reason[0] ? "  " : "", c.reason);
		} else {
			printf("%-*s %-14s %s\n", name_width(cat), kvmdci_catalog_entry_name(cat, i),
			       st, c.reason);
		}
	}
	if (tool.json) {
		json_t *doc = json_pack("{s:s, s:s, s:i, s:i, s:o}", "target", tool.target, "kernel",
					kvmdci_kernel_release(k), "applicable", applicable,
					"resolved", resolved, "entries", rows);
		rows = NULL;
		tool_json_print(&tool, doc);
		json_decref(doc);
	} else {
		printf("%d of %d applicable entries resolved (%.0f%%) on %s\n", resolved, applicable,
		       applicable ? 100.0 * resolved / applicable : 0.0, kvmdci_kernel_release(k));
	}
	status = resolved == applicable ? 0 : 1;
out:
	json_decref(rows);
	kvmdci_kernel_unref(k);
	kvmdci_target_unref(t);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		TOOL_COMMON_LONGOPTS,
		{ "tag", required_argument, NULL, 'T' },
		{ "vendor", required_argument, NULL, 'W' },
		{ "all", no_argument, NULL, 'a' },
		{ 0 },
	};
	const char *tag = NULL, *vendor = NULL, *cmd;
	struct kvmdci_catalog *cat = NULL;
	bool all = false;
	int opt, r, status;

	while ((opt = tool_getopt(&tool, argc, argv, TOOL_COMMON_SHORTOPTS "a", opts)) != -1) {
		if (tool_common_option(&tool, opt, optarg, usage))
			continue;
		switch (opt) {
		case 'T':
			tag = optarg;
			break;
		case 'W':
			vendor = optarg;
			break;
		case 'a':
			all = true;
			break;
		default:
			tool_bad_option(&tool);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "kvmdci-catalog: a command is needed: list, show NAME or check\n");
		return 2;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "list") && strcmp(cmd, "show") && strcmp(cmd, "check")) {
		fprintf(stderr, "kvmdci-catalog: unknown command '%s' (list, show, check)\n", cmd);
		return 2;
	}
	if (!strcmp(cmd, "show") && optind >= argc) {
		fprintf(stderr, "kvmdci-catalog: show needs an entry name\n");
		return 2;
	}
	if (!strcmp(cmd, "check"))
		tool_setup(&tool);
	else
		tool_ctx_new(&tool);
	if ((r = kvmdci_catalog_load(tool.ctx, tool.catalog, &cat)) < 0) {
		status = tool_fail(&tool, r, NULL);
		goto out;
	}
	if (!strcmp(cmd, "list"))
		status = cmd_list(cat, tag, vendor);
	else if (!strcmp(cmd, "show"))
		status = cmd_show(cat, argv[optind]);
	else
		status = cmd_check(cat, all);
out:
	kvmdci_catalog_unref(cat);
	kvmdci_ctx_unref(tool.ctx);
	return status;
}
