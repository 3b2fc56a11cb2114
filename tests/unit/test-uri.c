// SPDX-License-Identifier: LGPL-2.1-or-later
/* Target URI parsing: good forms and clear errors for malformed ones. */
#include <string.h>

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
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(uri_suite);
