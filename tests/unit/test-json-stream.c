// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The tools' streamed JSON printer (tools/shared.c: tool_json_stream_*) prints json_t trees
 * itself, for speed; its output must be jansson's, byte for byte, compact and indented, for
 * every kind of value: strings with every control character, quotes, backslashes and UTF-8,
 * empty and nested containers, the extreme integers, reals. tool_json_addr()'s hex must be
 * "0x%llx"; elements built in tool_json_stream_element()'s memory print the same, and a
 * value kept past its element stays as it was. Linked like a tool (tool-main.c's main() runs this tool_main()); prints each
 * difference and exits 1 when there is one.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"

static int failures;

static json_t *element(int i)
{
	char every[0x21];
	for (int c = 1; c < 0x20; c++)
		every[c - 1] = (char)c;
	memcpy(every + 0x1f, "\"\\", 2);
	char utf8[64];
	snprintf(utf8, sizeof(utf8), "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80 %d", i);
	json_t *e = json_pack("{s:s#, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:b, s:b, s:n}",
			      "controls, \" and \\", every, (int)sizeof(every), "utf-8",
			      utf8, "", "", "zero",
			      (json_int_t)0, "minus one", (json_int_t)-1, "max",
			      (json_int_t)INT64_MAX, "min", (json_int_t)INT64_MIN, "real", 0.1,
			      "big real", -1.5e300, "true", 1, "false", 0, "null");
	json_object_set_new(e, "empty object", json_object());
	json_object_set_new(e, "empty array", json_array());
	json_object_set_new(e, "nested",
			    json_pack("[i, [s, {s:[]}], {s:{s:i}}]", i, "a\tb", "x", "y", "z", -i));
	json_object_set_new(e, "addr", tool_json_addr((unsigned long long)i << 60));
	return e;
}

static void compare(bool pretty, int n)
{
	struct tool tool = { .name = "test-json-stream", .json = true, .pretty = pretty };
	struct tool_json_stream js;
	char *got = NULL, *want;
	size_t len = 0;
	FILE *real = stdout, *mem = open_memstream(&got, &len);
	json_t *doc = json_pack("{s:i, s:s, s:[]}", "format", KVMDCI_JSON_FORMAT, "head \x01",
				"h\"ead", "vms");
	json_t *tail = json_pack("{s:{s:I}}", "stats", "packets_sent", (json_int_t)42);

	if (!mem || !doc || !tail)
		abort();
	stdout = mem;
	json_t *kept = NULL;
	tool_json_stream_init(&js, &tool, json_pack("{s:s}", "head \x01", "h\"ead"), "vms");
	for (int i = 0; i < n; i++) {
		/* odd elements built in tool_json_stream_element()'s memory; the first one's
		 * "utf-8" string kept past its element (then the block is not used again) */
		json_t *e = i % 2 ? tool_json_stream_element(&js) : NULL;
		if (e)
			json_object_update_new(e, element(i));
		else
			e = element(i);
		if (i == 1)
			kept = json_incref(json_object_get(e, "utf-8"));
		tool_json_stream_add(&js, e);
		json_array_append_new(json_object_get(doc, "vms"), element(i));
	}
	tool_json_stream_end(&js, json_incref(tail));
	if (kept && strcmp(json_string_value(kept), json_string_value(json_object_get(
				   json_array_get(json_object_get(doc, "vms"), 1), "utf-8")))) {
		printf("FAIL a string kept past its element changed: '%s'\n", json_string_value(kept));
		failures++;
	}
	json_decref(kept);
	fclose(mem);
	stdout = real;
	json_object_update(doc, tail);
	want = json_dumps(doc, JSON_PRESERVE_ORDER | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
	size_t wl = want ? strlen(want) : 0;
	if (!want || len != wl + 1 || memcmp(got, want, wl) || got[wl] != '\n') {
		size_t at = 0;
		while (want && at < len && at < wl && got[at] == want[at])
			at++;
		printf("FAIL %s, %d elements: the stream differs from jansson at byte %zu of %zu "
		       "(jansson: %zu + newline):\n  stream:  %.60s\n  jansson: %.60s\n",
		       pretty ? "indented" : "compact", n, at, len, wl, got + at,
		       want ? want + at : "(none)");
		failures++;
	} else {
		printf("ok   %s, %d elements: %zu bytes, the same as jansson's\n",
		       pretty ? "indented" : "compact", n, len);
	}
	free(got);
	free(want);
	json_decref(doc);
	json_decref(tail);
}

int main(int argc, char **argv)
{
	static const unsigned long long addrs[] = { 0,		   1,	     0xf,
						    0x10,	   0xabcdef, 0xffffffffc0449290ULL,
						    1ULL << 63, ~0ULL };

	(void)argc;
	(void)argv;
	for (int n = 0; n <= 5; n++) {
		compare(false, n);
		compare(true, n);
	}
	for (size_t i = 0; i < sizeof(addrs) / sizeof(*addrs); i++) {
		char want[24];
		json_t *a = tool_json_addr(addrs[i]);
		snprintf(want, sizeof(want), "0x%llx", addrs[i]);
		if (strcmp(json_string_value(a), want)) {
			printf("FAIL tool_json_addr(%s) gave %s\n", want, json_string_value(a));
			failures++;
		}
		json_decref(a);
	}
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
