// SPDX-License-Identifier: LGPL-2.1-or-later
/* Helpers shared by the kvmdci-* tools. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "shared.h"
#include "target/uri.h"

static int tool_fail_msg_json(struct tool *tool, int err, const char *msg);

volatile sig_atomic_t tool_stop_requested;
volatile sig_atomic_t tool_in_loop;
static volatile sig_atomic_t signals_seen;
/* the context whose waits a signal ends (set once, before the handlers are installed) */
static struct kvmdci_ctx *signal_ctx;
const char *tool_program_name;
/* kvmdci_ctx_target_lost() copied while the context lives (tools drop it before returning) */
static char target_lost[600];

static void note_target_lost(struct kvmdci_ctx *ctx)
{
	const char *lost = ctx ? kvmdci_ctx_target_lost(ctx) : NULL;

	if (lost && !target_lost[0])
		snprintf(target_lost, sizeof(target_lost), "%s", lost);
}

const char *tool_target_lost(void)
{
	return target_lost[0] ? target_lost : NULL;
}

/* SIGINT, SIGTERM, SIGHUP: inside a tracing loop, the first one only asks the loop to stop (it
 * then removes its breakpoints and resumes the target as usual); anywhere else, or a second
 * one, also ends every wait of the library within half a second (kvmdci_ctx_interrupt). */
static void on_signal(int sig)
{
	(void)sig;
	tool_stop_requested = 1;
	if (signals_seen < 2)
		signals_seen++;
	if (!tool_in_loop || signals_seen > 1)
		kvmdci_ctx_interrupt(signal_ctx);
}

void tool_install_signals(void)
{
	/* no SA_RESTART: a blocking open() or connect() ends with EINTR */
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* why the first write or flush of stdout failed (0: none did) */
static int stdout_errno;

void tool_note_stdout_errno(int err)
{
	if (!stdout_errno && err)
		stdout_errno = err;
}

int tool_common_option(struct tool *tool, int opt, const char *arg, void (*usage)(FILE *))
{
	switch (opt) {
	case 't':
		tool->target = arg;
		return 1;
	case 'j':
		tool->json = true;
		return 1;
	case 'p':
		tool->json = tool->pretty = true;
		return 1;
	case 'v':
		tool->verbose++;
		return 1;
	case 'h':
		errno = 0;
		usage(stdout);
		/* a help longer than stdout's buffer is written while it is printed: keep why a
		 * write failed now, before errno moves on */
		if (ferror(stdout))
			tool_note_stdout_errno(errno);
		exit(0);
	case 'V':
		tool->want_version = true;
		return 1;
	case TOOL_OPT_VMLINUX:
		tool->files.vmlinux = arg;
		return 1;
	case TOOL_OPT_SYSTEM_MAP:
		tool->files.system_map = arg;
		return 1;
	case TOOL_OPT_MODULES:
		tool->files.modules = arg;
		return 1;
	case TOOL_OPT_CATALOG:
		tool->catalog = arg;
		return 1;
	}
	return 0;
}

static void tool_log(struct kvmdci_ctx *ctx, int priority, const char *file, int line,
		     const char *fn, const char *format, va_list args)
{
	struct tool *tool = kvmdci_ctx_get_log_data(ctx);
	note_target_lost(ctx);
	/* errors are printed once, by tool_fail; the rest only when verbose */
	if (priority <= KVMDCI_LOG_ERR)
		return;
	if (priority >= KVMDCI_LOG_DEBUG)
		fprintf(stderr, "%s: debug: %s:%d: ", tool->name, file, line);
	else if (priority == KVMDCI_LOG_WARNING)
		fprintf(stderr, "%s: warning: ", tool->name);
	else
		fprintf(stderr, "%s: ", tool->name);
	(void)fn;
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
}

/* Every tool links this file: stdout's close is checked at exit (tool_close_stdout) without
 * each main() having to remember it. */
__attribute__((constructor)) static void register_close_stdout(void)
{
	atexit(tool_close_stdout);
}


int tool_flush_stdout(void)
{
	if (fflush(stdout) == EOF) {
		if (!stdout_errno)
			stdout_errno = errno ? errno : EIO;
		return -stdout_errno;
	}
	return ferror(stdout) ? -(stdout_errno ? stdout_errno : EIO) : 0;
}

void tool_close_stdout(void)
{
	int err = 0;

	/* fflush and fclose both: a buffered write fails at fflush, an earlier one left the
	 * stream's error flag set (its errno kept by tool_flush_stdout, else unknown: EIO) */
	if (tool_flush_stdout() < 0)
		err = stdout_errno ? stdout_errno : EIO;
	if (fclose(stdout) == EOF && !err)
		err = errno ? errno : EIO;
	if (!err)
		return;
	if (err != EPIPE)
		fprintf(stderr, "%s: write error on standard output: %s\n",
			program_invocation_short_name, strerror(err));
	_exit(1);
}

int tool_parse_uint(const char *arg, int base, unsigned long long min, unsigned long long max,
		    unsigned long long *out)
{
	unsigned long long v;
	char *end;

	/* strtoull takes "-1" (as 2^64-1), "+1" and leading space: a digit must come first */
	if (!arg || !(base == 16 ? isxdigit((unsigned char)arg[0]) : isdigit((unsigned char)arg[0])))
		return -EINVAL;
	errno = 0;
	v = strtoull(arg, &end, base);
	if (end == arg || *end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int tool_parse_double(const char *arg, double min, double max, double *out)
{
	double v;
	char *end;

	/* strtod takes "nan", "inf", "-3", " 1" and hex floats ("0x10"): a digit or '.' must come
	 * first, and no x or p later */
	if (!arg || !(isdigit((unsigned char)arg[0]) || arg[0] == '.') || strpbrk(arg, "xXpP"))
		return -EINVAL;
	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || *end)
		return -EINVAL;
	if (!isfinite(v) || errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

unsigned long long tool_opt_uint(struct tool *tool, const char *opt, const char *arg, int base,
				 unsigned long long min, unsigned long long max, const char *what)
{
	unsigned long long v = 0;

	if (tool_parse_uint(arg, base, min, max, &v) < 0)
		tool_usage_error(tool, "%s needs %s, not '%s'", opt, what, arg);
	return v;
}

double tool_opt_double(struct tool *tool, const char *opt, const char *arg, double min,
		       double max, const char *what)
{
	double v = 0;

	if (tool_parse_double(arg, min, max, &v) < 0)
		tool_usage_error(tool, "%s needs %s, not '%s'", opt, what, arg);
	return v;
}

void tool_usage_error(struct tool *tool, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", tool->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", tool->name);
	if (tool->json) {
		/* the JSON reader gets its error object too (bpftool does the same) */
		char msg[1024];
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		tool_fail_msg_json(tool, EINVAL, msg);
	}
	exit(2);
}

void tool_bad_option(struct tool *tool)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", tool->name);
	exit(2);
}

int tool_getopt(struct tool *tool, int argc, char **argv, const char *shortopts,
		const struct option *longopts)
{
	int opt = getopt_long(argc, argv, shortopts, longopts, NULL);

	if (opt == '?' || opt == ':')
		tool_bad_option(tool);
	if (opt == -1 && tool->want_version)
		tool_version(tool);
	return opt;
}

void tool_version(struct tool *tool)
{
	const char *lib = kvmdci_version(), *features = kvmdci_features();

	if (tool->json) {
		json_t *doc = json_pack("{s:s, s:s, s:s, s:[]}", "tool", tool->name, "version",
					KVMDCI_VERSION, "library_version", lib, "features");
		char *list = strdup(features), *save = NULL;
		for (char *f = list ? strtok_r(list, " ", &save) : NULL; f;
		     f = strtok_r(NULL, " ", &save))
			json_array_append_new(json_object_get(doc, "features"), json_string(f));
		free(list);
		tool_json_print(tool, doc);
		json_decref(doc);
	} else {
		printf("%s %s\nlibkvmdci %s\nfeatures: %s\n", tool->name, KVMDCI_VERSION, lib,
		       features);
	}
	exit(0);
}

/* --vmlinux and --system-map (or their environment defaults) before anything is attached: a
 * FIFO there would block open() until a writer came (the library refuses one too). Exits 1
 * with one line. */
static void check_kernel_files(struct tool *tool)
{
	const struct {
		const char *opt, *path;
	} files[] = {
		{ "--vmlinux", tool->files.vmlinux ? tool->files.vmlinux
			: kvmdci_ctx_get_tunable(tool->ctx, KVMDCI_TUNABLE_VMLINUX) },
		{ "--system-map", tool->files.system_map ? tool->files.system_map
			: kvmdci_ctx_get_tunable(tool->ctx, KVMDCI_TUNABLE_SYSTEM_MAP) },
	};
	struct stat st;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *p = files[i].path;
		if (!p || !*p)
			continue;
		/* a missing file: the library says so, with what it needed the file for */
		if (stat(p, &st) == 0 && !S_ISREG(st.st_mode)) {
			fprintf(stderr, "%s: %s %s is %s, not a regular file: give the file itself\n",
				tool->name, files[i].opt, p,
				S_ISFIFO(st.st_mode)  ? "a FIFO"
				: S_ISDIR(st.st_mode) ? "a directory"
						      : "a device or socket");
			exit(1);
		}
	}
}

void tool_setup(struct tool *tool)
{
	struct target_uri uri;
	char err[600];

	if (!tool->target) {
		tool->target = getenv("KVMDCI_TARGET");
		if (!tool->target || !*tool->target) {
			fprintf(stderr, "%s: no target: give -t URI (e.g. gdb+unix:///path/gdb.sock) "
					"or set KVMDCI_TARGET (the lab: eval \"$(kvmdci-lab env)\")\n",
				tool->name);
			exit(2);
		}
	}
	/* the library would refuse it too, but as a failure (exit 1): it is bad usage (2) */
	tool_program_name = tool->name;
	if (target_uri_parse(tool->target, &uri, err, sizeof(err)) < 0)
		tool_usage_error(tool, "%s", err);
	tool_ctx_new(tool);
	check_kernel_files(tool);
}

void tool_ctx_new(struct tool *tool)
{
	int r = kvmdci_ctx_new(&tool->ctx);

	if (r < 0) {
		fprintf(stderr, "%s: %s\n", tool->name, strerror(-r));
		exit(1);
	}
	kvmdci_ctx_set_log_fn(tool->ctx, tool_log, tool);
	signal_ctx = tool->ctx;
	tool_install_signals();
	kvmdci_ctx_set_log_priority(tool->ctx, tool->verbose >= 2 ? KVMDCI_LOG_DEBUG
					       : tool->verbose   ? KVMDCI_LOG_INFO
								 : KVMDCI_LOG_WARNING);
}

int tool_fail(struct tool *tool, int err, const char *fallback)
{
	const char *msg = tool->ctx ? kvmdci_ctx_last_error(tool->ctx) : "";

	if (!msg || !*msg)
		msg = fallback ? fallback : strerror(err < 0 ? -err : err);
	return tool_fail_msg(tool, err, msg);
}

/* @s as valid UTF-8 for JSON (jansson refuses anything else): a byte that is not part of a
 * well-formed sequence (a file name in another encoding) becomes "\xNN". Caller frees. */
static char *utf8_clean(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n * 4 + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
			   : (c & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = len && i + len <= n;
		for (size_t j = 1; ok && j < len; j++)
			ok = ((unsigned char)s[i + j] & 0xc0) == 0x80;
		if (ok && len > 1) {
			/* jansson's own check: no overlong forms, surrogates or > U+10FFFF */
			json_t *t = json_stringn(s + i, len);
			ok = t != NULL;
			json_decref(t);
		}
		if (!ok) {
			o += sprintf(out + o, "\\x%02x", c);
			i++;
			continue;
		}
		memcpy(out + o, s + i, len);
		o += len;
		i += len;
	}
	out[o] = '\0';
	return out;
}

int tool_fail_msg(struct tool *tool, int err, const char *msg)
{
	note_target_lost(tool->ctx);
	fprintf(stderr, "%s: %s\n", tool->name, msg);
	return tool_fail_msg_json(tool, err, msg);
}

static int tool_fail_msg_json(struct tool *tool, int err, const char *msg)
{
	if (tool->json) {
		char *clean = utf8_clean(msg);
		json_t *doc = json_pack("{s:s, s:i}", "error", clean ? clean : "out of memory",
					"errno", err < 0 ? -err : err);
		free(clean);
		tool_json_print(tool, doc);
		json_decref(doc);
	}
	return 1;
}

int tool_need_run_control(struct tool *tool, struct kvmdci_target *t, const char *why)
{
	char msg[512];

	if (kvmdci_target_has_run_control(t))
		return 0;
	snprintf(msg, sizeof(msg),
		 "%s is a read-only target (a dump or /proc/kcore): %s needs a live target that runs "
		 "and takes breakpoints (gdb://, gdb+unix://, serial://, usb://); for the state a dump "
		 "holds use kvmdci-cpus, kvmdci-stack, kvmdci-vcpu or kvmdci-vmcs",
		 kvmdci_target_get_uri(t), why);
	return tool_fail_msg(tool, -EOPNOTSUPP, msg);
}

void tool_progress(struct tool *tool, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", tool->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* KVMDCI_JSON_LOG=FILE: a copy of every document, one line each ("TOOL<TAB>JSON"), appended
 * with one write so that tools running at the same time do not mix their lines; the tests
 * check every line against the tool's schema. */
static const char *json_log_path(void)
{
	const char *path = getenv("KVMDCI_JSON_LOG");
	return path && *path ? path : NULL;
}

/* Append "TOOL<TAB>@js" to the log at @path. */
static void json_log_text(struct tool *tool, const char *path, const char *js)
{
	char *line = NULL;
	int fd, n;

	n = asprintf(&line, "%s\t%s\n", tool->name, js);
	if (n < 0)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		fprintf(stderr, "%s: cannot append to KVMDCI_JSON_LOG %s: %s\n", tool->name, path,
			strerror(errno));
	if (fd >= 0)
		close(fd);
	free(line);
}

static void json_log(struct tool *tool, json_t *doc)
{
	const size_t flags = JSON_PRESERVE_ORDER | JSON_COMPACT;
	const char *path = json_log_path();
	size_t len;
	char *js;

	/* json_dumpb into our own buffer: json_dumps' string comes from jansson's allocator,
	 * which is not always malloc (the stream's block, below) */
	if (!path || !(len = json_dumpb(doc, NULL, 0, flags)) || !(js = malloc(len + 1)))
		return;
	if (json_dumpb(doc, js, len, flags) == len) {
		js[len] = 0;
		json_log_text(tool, path, js);
	}
	free(js);
}

void tool_json_print(struct tool *tool, json_t *doc)
{
	size_t flags = JSON_PRESERVE_ORDER | (tool->pretty ? JSON_INDENT(2) : JSON_COMPACT);

	note_target_lost(tool->ctx);
	if (target_lost[0] && json_is_object(doc) && !json_object_get(doc, "errno")) {
		/* what was read before the target was lost, marked as such */
		json_object_set_new(doc, "incomplete", json_true());
		if (!json_object_get(doc, "error"))
			json_object_set_new(doc, "error", json_string(target_lost));
	}
	/* every document says first which version of the vocabulary it speaks (schemas/) */
	json_t *out = NULL;
	if (json_is_object(doc) && !json_object_get(doc, "format")) {
		out = json_pack("{s:i}", "format", KVMDCI_JSON_FORMAT);
		if (out && json_object_update(out, doc) < 0) {
			json_decref(out);
			out = NULL;
		}
	}
	json_dumpf(out ? out : doc, stdout, flags);
	fputc('\n', stdout);
	json_log(tool, out ? out : doc);
	json_decref(out);
	tool_flush_stdout();
}

/* ---- a document printed as it is built ---- */

/*
 * jansson's memory while one streamed element is built and printed: a tree of a few hundred
 * values (an io-bus VM: ~150) takes as many malloc()s and free()s, a third of a 1000-VM
 * io-bus walk's instructions. Between tool_json_stream_element() and the element's
 * tool_json_stream_add() they come from one block, one after the other, and free() of them
 * only counts; the block is used again from its start only when nothing in it is still
 * referenced (every allocation freed), so a value kept longer stays valid (the block then
 * fills up, and malloc() takes over). Outside that window, and for whatever does not fit,
 * jansson's memory is malloc()'s. Set once for the process (json_set_alloc_funcs). So no
 * json_dumps() in that window (its string, from the block, would go to free()): the tools
 * print with json_dumpb and json_dumpf.
 */
#define ARENA_SIZE (4u << 20)
static struct {
	char *base;
	size_t used;
	long live; /* allocations not yet freed */
	bool on;
} arena;

static void *arena_malloc(size_t n)
{
	size_t need = (n + 15) & ~(size_t)15; /* malloc's alignment (n is checked first) */

	if (arena.on && arena.base && n <= ARENA_SIZE && need <= ARENA_SIZE - arena.used) {
		void *p = arena.base + arena.used;
		arena.used += need;
		arena.live++;
		return p;
	}
	return malloc(n);
}

static void arena_free(void *p)
{
	if (arena.base && (char *)p >= arena.base && (char *)p < arena.base + ARENA_SIZE) {
		arena.live--;
		return;
	}
	free(p);
}

/* the window opens: from the block's start when nothing in it is referenced */
static void arena_open(void)
{
	static bool set;

	if (!set) {
		json_set_alloc_funcs(arena_malloc, arena_free);
		set = true;
	}
	if (!arena.base && !(arena.base = malloc(ARENA_SIZE)))
		return; /* malloc() for all */
	if (!arena.live)
		arena.used = 0;
	arena.on = true;
}

static void arena_close(void)
{
	arena.on = false;
	if (!arena.live)
		arena.used = 0;
}

/*
 * The stream prints json_t trees itself, as jansson prints them (members in their order,
 * compact or indented by 2), without jansson's cycle check: json_dumps formats every object's
 * and array's address into a key of a hash table of parents (snprintf, an insertion and a
 * removal: most of the printing of a 650-VM io-bus document). The trees a tool builds have
 * no cycles. Each piece is built in @s->text (kept: its memory touched once), then written.
 */
/* Room for @n more bytes in @s->text; false when out of memory (the piece is cut short). */
static bool text_room(struct tool_json_stream *s, size_t n)
{
	struct tool_json_text *t = &s->text;

	if (t->n + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->n + n + 1)
			cap *= 2;
		char *q = realloc(t->p, cap);
		if (!q)
			return false;
		t->p = q;
		t->cap = cap;
	}
	return true;
}

static void text_put(struct tool_json_stream *s, const char *p, size_t n)
{
	if (!text_room(s, n))
		return;
	memcpy(s->text.p + s->text.n, p, n);
	s->text.n += n;
}

static void text_puts(struct tool_json_stream *s, const char *p)
{
	text_put(s, p, strlen(p));
}

/* What jansson writes before a member or element at @depth: a newline and the indentation
 * when indented, nothing when compact (the only two ways the tools print) */
static void text_newline(struct tool_json_stream *s, int indent, int depth)
{
	static const char spaces[] = "                                ";

	if (!indent)
		return;
	text_put(s, "\n", 1);
	for (int n = indent * depth; n > 0; n -= (int)sizeof(spaces) - 1)
		text_put(s, spaces, n < (int)sizeof(spaces) - 1 ? (size_t)n : sizeof(spaces) - 1);
}

/* the bytes a JSON string escapes */
static const bool text_escaped[256] = {
	[0x00 ... 0x1f] = true,
	['"'] = true,
	['\\'] = true,
};

/* A JSON string: '"', '\' and control characters escaped as jansson escapes them (\uXXXX in
 * capitals where no short form exists); every other byte as it is (the UTF-8 jansson keeps).
 * Room for the worst case (6 bytes a byte) is made once: the bytes are then copied straight
 * (a document's strings are most of its bytes, nearly all with nothing to escape). */
static void text_string(struct tool_json_stream *s, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o;

	if (n > (SIZE_MAX - 2) / 6 || !text_room(s, 6 * n + 2))
		return;
	o = s->text.p + s->text.n;
	*o++ = '"';
	for (size_t i = 0, run; i < n; i++) {
		unsigned char c;
		for (run = i; i < n && !text_escaped[(unsigned char)p[i]]; i++)
			;
		memcpy(o, p + run, i - run);
		o += i - run;
		if (i == n)
			break;
		c = (unsigned char)p[i];
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			memcpy(o, "u00", 3);
			o[3] = hex[c >> 4];
			o[4] = hex[c & 15];
			o += 5;
		}
	}
	*o++ = '"';
	s->text.n = (size_t)(o - s->text.p);
}

/* @v in decimal, as jansson prints a JSON integer */
static void text_integer(struct tool_json_stream *s, json_int_t v)
{
	char num[24], *o = num + sizeof(num);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--o = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--o = '-';
	text_put(s, o, (size_t)(num + sizeof(num) - o));
}

/* @v at @depth of its document */
static void text_json(struct tool_json_stream *s, json_t *v, int indent, int depth)
{
	const char *key;
	size_t i, n = 0;
	json_t *m;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		text_put(s, "{", 1);
		json_object_foreach(v, key, m) {
			if (n++)
				text_put(s, ",", 1);
			text_newline(s, indent, depth + 1);
			text_string(s, key, strlen(key));
			text_puts(s, indent ? ": " : ":");
			text_json(s, m, indent, depth + 1);
		}
		if (n)
			text_newline(s, indent, depth);
		text_put(s, "}", 1);
		break;
	case JSON_ARRAY:
		text_put(s, "[", 1);
		json_array_foreach(v, i, m) {
			if (i)
				text_put(s, ",", 1);
			text_newline(s, indent, depth + 1);
			text_json(s, m, indent, depth + 1);
		}
		if (json_array_size(v))
			text_newline(s, indent, depth);
		text_put(s, "]", 1);
		break;
	case JSON_STRING:
		text_string(s, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		text_integer(s, json_integer_value(v));
		break;
	case JSON_REAL: { /* jansson's own shortest round-trip form (no allocation: see arena) */
		char num[64];
		size_t len = json_dumpb(v, num, sizeof(num), JSON_ENCODE_ANY);
		if (len <= sizeof(num))
			text_put(s, num, len);
		break;
	}
	case JSON_TRUE:
		text_puts(s, "true");
		break;
	case JSON_FALSE:
		text_puts(s, "false");
		break;
	case JSON_NULL:
		text_puts(s, "null");
		break;
	}
}

/* Build a piece with @build (indented as the tool prints) and write it to stdout, then, for
 * KVMDCI_JSON_LOG, compact to the log's copy. */
static void stream_piece(struct tool_json_stream *s,
			 void (*build)(struct tool_json_stream *s, int indent, void *arg), void *arg)
{
	int indent = s->tool->pretty ? 2 : 0;

	s->text.n = 0;
	build(s, indent, arg);
	fwrite(s->text.p, 1, s->text.n, stdout);
	if (!s->log)
		return;
	if (indent) {
		s->text.n = 0;
		build(s, 0, arg);
	}
	fwrite(s->text.p, 1, s->text.n, s->log);
}

/* the members of @arg (an object) at depth 1, after others unless it is the head */
static void build_members(struct tool_json_stream *s, int indent, void *arg)
{
	const char *key;
	json_t *v;
	bool first = s->n < 0;

	if (first)
		text_put(s, "{", 1);
	json_object_foreach((json_t *)arg, key, v) {
		if (!first)
			text_put(s, ",", 1);
		first = false;
		text_newline(s, indent, 1);
		text_string(s, key, strlen(key));
		text_puts(s, indent ? ": " : ":");
		text_json(s, v, indent, 1);
	}
	if (s->n < 0) { /* the head: then the array's opening */
		if (!first)
			text_put(s, ",", 1);
		text_newline(s, indent, 1);
		text_string(s, s->key, strlen(s->key));
		text_puts(s, indent ? ": [" : ":[");
	}
}

static void build_element(struct tool_json_stream *s, int indent, void *arg)
{
	if (s->n)
		text_put(s, ",", 1);
	text_newline(s, indent, 2);
	text_json(s, arg, indent, 2);
}

static void build_close_array(struct tool_json_stream *s, int indent, void *arg)
{
	(void)arg;
	if (s->n) /* "[]" when empty */
		text_newline(s, indent, 1);
	text_put(s, "]", 1);
}

static void build_close(struct tool_json_stream *s, int indent, void *arg)
{
	(void)arg;
	text_newline(s, indent, 0);
	text_put(s, "}", 1);
}

void tool_json_stream_init(struct tool_json_stream *s, struct tool *tool, json_t *head,
			   const char *key)
{
	*s = (struct tool_json_stream){ .tool = tool, .head = head, .key = key, .n = -1 };
}

static void stream_head(struct tool_json_stream *s)
{
	json_t *out = NULL;

	if (s->n >= 0)
		return;
	if (json_log_path())
		s->log = open_memstream(&s->log_text, &s->log_len);
	/* "format" first, as tool_json_print() puts it */
	if (!json_object_get(s->head, "format")) {
		out = json_pack("{s:i}", "format", KVMDCI_JSON_FORMAT);
		if (out && json_object_update(out, s->head) < 0) {
			json_decref(out);
			out = NULL;
		}
	}
	stream_piece(s, build_members, out ? out : s->head);
	s->n = 0;
	json_decref(out);
}

json_t *tool_json_stream_element(struct tool_json_stream *s)
{
	(void)s;
	arena_open();
	return json_object();
}

void tool_json_stream_add(struct tool_json_stream *s, json_t *elem)
{
	stream_head(s);
	stream_piece(s, build_element, elem);
	s->n++;
	json_decref(elem);
	arena_close();
}

void tool_json_stream_end(struct tool_json_stream *s, json_t *tail)
{
	stream_head(s);
	stream_piece(s, build_close_array, NULL);
	if (!tail)
		tail = json_object();
	/* what was read before the target was lost, marked as such (tool_json_print) */
	note_target_lost(s->tool->ctx);
	if (target_lost[0] && !json_object_get(s->head, "errno") &&
	    !json_object_get(tail, "errno")) {
		json_object_set_new(tail, "incomplete", json_true());
		if (!json_object_get(s->head, "error") && !json_object_get(tail, "error"))
			json_object_set_new(tail, "error", json_string(target_lost));
	}
	stream_piece(s, build_members, tail);
	stream_piece(s, build_close, NULL);
	fputc('\n', stdout);
	if (s->log) {
		if (fclose(s->log) == 0)
			json_log_text(s->tool, json_log_path(), s->log_text);
		s->log = NULL;
	}
	json_decref(tail);
	tool_json_stream_drop(s);
	tool_flush_stdout();
}

void tool_json_stream_drop(struct tool_json_stream *s)
{
	arena_close();
	if (s->log)
		fclose(s->log);
	free(s->log_text);
	free(s->text.p);
	json_decref(s->head);
	*s = (struct tool_json_stream){ .n = -1 };
}

json_t *tool_json_addr(unsigned long long addr)
{
	static const char hex[] = "0123456789abcdef";
	char buf[18];
	int n = 0, shift = 60;

	buf[n++] = '0';
	buf[n++] = 'x';
	while (shift && !(addr >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		buf[n++] = hex[(addr >> shift) & 15];
	return json_stringn_nocheck(buf, (size_t)n); /* ASCII: no UTF-8 check needed */
}

void tool_no_more_args(struct tool *tool, int argc, char **argv, int optind_now)
{
	if (optind_now < argc)
		tool_usage_error(tool, "unexpected argument '%s'", argv[optind_now]);
}

int tool_attach(struct tool *tool, struct kvmdci_target **t, struct kvmdci_kernel **k)
{
	int r;

	tool_setup(tool);
	tool_install_signals();
	if (tool->verbose)
		tool_progress(tool, "attaching to %s", tool->target);
	if ((r = kvmdci_target_open(tool->ctx, tool->target, t)) < 0 ||
	    (r = kvmdci_kernel_open(*t, &tool->files, k)) < 0)
		return tool_fail(tool, r, NULL);
	return 0;
}

void tool_parse_vm(struct tool *tool, const char *arg, struct kvmdci_vm_select *sel)
{
	int32_t vcpu_id = sel->vcpu_id;

	if (kvmdci_vm_select_parse(arg, sel) < 0)
		tool_usage_error(tool, "--vm needs a struct kvm address (0x...) or a pid, not '%s'",
				 arg);
	sel->vcpu_id = vcpu_id; /* --vcpu may have come first */
}

void tool_parse_vcpu(struct tool *tool, const char *arg, struct kvmdci_vm_select *sel)
{
	sel->vcpu_id = (int32_t)tool_opt_uint(tool, "--vcpu", arg, 0, 0, INT32_MAX,
					      "a vCPU id (0 to 2^31-1)");
}

int tool_poll_slice(double t0, double duration, int slice_ms)
{
	double left;

	if (duration <= 0)
		return slice_ms;
	left = duration - (tool_now_s() - t0);
	if (left <= 0)
		return 0;
	return left * 1000 < slice_ms ? (int)(left * 1000) + 1 : slice_ms;
}

double tool_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
