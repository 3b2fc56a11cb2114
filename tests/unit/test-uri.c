// SPDX-License-Identifier: LGPL-2.1-or-later
/* Target URI parsing: good forms and clear errors for malformed ones. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#include "target/uri.h"
#include "test-common.h"

START_TEST(good)
{
	struct target_uri u;
	char err[256];
	ck_assert_int_eq(target_uri_parse("gdb://127.0.0.1:1234", &u, err, sizeof(err)), 0);
	ck_assert_int_eq(u.kind, URI_GDB_TCP);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_str_eq(u.port, "1234");
	ck_assert_int_eq(target_uri_parse("gdb://[::1]:9", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_str_eq(u.port, "9");
	ck_assert_int_eq(target_uri_parse("gdb+unix:///run/lab/gdb.sock", &u, err, sizeof(err)), 0);
	ck_assert_int_eq(u.kind, URI_GDB_UNIX);
	ck_assert_str_eq(u.path, "/run/lab/gdb.sock");
	ck_assert_int_eq(target_uri_parse("serial:///dev/ttyS0", &u, err, sizeof(err)), 0);
	ck_assert_int_eq(u.kind, URI_SERIAL);
	ck_assert_str_eq(u.path, "/dev/ttyS0");
	ck_assert_int_eq(u.baud, 0);
	ck_assert_int_eq(target_uri_parse("serial:///dev/ttyUSB1?baud=115200", &u, err, sizeof(err)),
			 0);
	ck_assert_str_eq(u.path, "/dev/ttyUSB1");
	ck_assert_int_eq(u.baud, 115200);
	ck_assert_int_eq(target_uri_parse("usb://1d6b:0010", &u, err, sizeof(err)), 0);
	ck_assert_int_eq(u.kind, URI_USB);
	ck_assert_int_eq(u.usb_by_class, 0);
	ck_assert_uint_eq(u.vid, 0x1d6b);
	ck_assert_uint_eq(u.pid, 0x0010);
	ck_assert_int_eq(u.interface, -1);
	ck_assert_int_eq(target_uri_parse("usb://1D6B:0010?serial=ab-12&if=1", &u, err, sizeof(err)),
			 0);
	ck_assert_str_eq(u.serial, "ab-12");
	ck_assert_int_eq(u.interface, 1);
	ck_assert_int_eq(target_uri_parse("usb://class=dc/02/01", &u, err, sizeof(err)), 0);
	ck_assert_int_eq(u.usb_by_class, 1);
	ck_assert_uint_eq(u.cls, 0xdc);
	ck_assert_uint_eq(u.subclass, 2);
	ck_assert_uint_eq(u.protocol, 1);
	ck_assert_int_eq(target_uri_parse("kcore:", &u, err, sizeof(err)), 0);
	ck_assert_int_eq(u.kind, URI_KCORE);
	ck_assert_str_eq(u.path, "/proc/kcore");
	ck_assert_int_eq(target_uri_parse("kcore:///tmp/kcore.copy", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.path, "/tmp/kcore.copy");
}
END_TEST

/* A bare path to a dump file is a dump (as drgn -c and crash take it); anything else that
 * looks like a path says what is wrong with it. */
START_TEST(bare_dump_path)
{
	char path[] = "/tmp/kvmdci-uri-XXXXXX", err[512];
	struct target_uri u;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(target_uri_parse(path, &u, err, sizeof(err)), 0);
	ck_assert_int_eq(u.kind, URI_CORE);
	ck_assert_str_eq(u.path, path);
	unlink(path);
	ck_assert_int_eq(target_uri_parse(path, &u, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no such file"));
	ck_assert_int_eq(target_uri_parse("/tmp", &u, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	/* a scheme before the first '/' is a URI gone wrong, said as such */
	ck_assert_int_eq(target_uri_parse("gdb:/nowhere", &u, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown scheme"));
}
END_TEST

/* core:///a/directory: said as such, not as the mmap error "No such device" */
START_TEST(core_directory)
{
	struct kvmdci_ctx *ctx;
	struct kvmdci_target *t = NULL;

	ck_assert_int_eq(kvmdci_ctx_new(&ctx), 0);
	kvmdci_ctx_set_log_priority(ctx, 0);
	ck_assert_int_eq(kvmdci_target_open(ctx, "core:///tmp", &t), -EISDIR);
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(kvmdci_ctx_last_error(ctx), "/tmp: a directory, not a dump file"),
		      "%s", kvmdci_ctx_last_error(ctx));
	kvmdci_ctx_unref(ctx);
}
END_TEST

START_TEST(bad)
{
	static const char *const bad_uris[] = {
		"", "gdb://", "gdb://host", "gdb://:12", "gdb://host:0", "gdb://host:65536",
		"gdb://host:12x", "gdb+unix://relative/path", "http://x", "gdb://a/b:1",
		"gdb://[::1:5", "gdb://host:1\n", "serial://dev/ttyS0", "serial:///",
		"serial:///dev/ttyS0?baud=fast", "serial:///dev/ttyS0?baud=0",
		"serial:///dev/ttyS0?speed=9600", "serial:///dev/ttyS0?baud", "usb://1d6b",
		"usb://1d6b:00100", "usb://1d6b:001g", "usb://:0010", "usb://class=dc/02",
		"usb://class=dc/02/100", "usb://1d6b:0010?if=300", "usb://1d6b:0010?serial=",
		"usb://1d6b:0010?color=red", "usb://1d6b:0010?if=-1", "kcore:proc/kcore", "kcore:/x",
	};
	struct target_uri u;
	char err[256];
	for (size_t i = 0; i < sizeof(bad_uris) / sizeof(bad_uris[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(target_uri_parse(bad_uris[i], &u, err, sizeof(err)) == -EINVAL,
			      "accepted '%s'", bad_uris[i]);
		ck_assert_msg(strstr(err, "invalid target URI") != NULL, "no message for '%s'",
			      bad_uris[i]);
	}
	char longpath[700] = "gdb+unix:///";
	memset(longpath + 12, 'a', 600);
	longpath[612] = '\0';
	ck_assert_int_eq(target_uri_parse(longpath, &u, err, sizeof(err)), -EINVAL);
}
END_TEST

static Suite *uri_suite(void)
{
	Suite *s = suite_create("uri");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, good);
	tcase_add_test(tc, bad);
	tcase_add_test(tc, bare_dump_path);
	tcase_add_test(tc, core_directory);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(uri_suite);
