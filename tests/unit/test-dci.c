// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kvmdci_dci_probe on a made-up /dev and /sys (the real ones need root, the msr module and an
 * Intel CPU with SDBG): MSR files hold IA32_DEBUG_INTERFACE at offset 0xC80 as the msr driver
 * serves it; the values are those of a production machine (enable 0, lock 1: 0x40000000) and
 * of a debug-enabled one (enable 1, lock 1, debug occurred: 0xc0000001). The CPU's own CPUID
 * is real, so the verdict is checked against it.
 */
#include <cpuid.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libkvmdci/libkvmdci.h"
#include "test-common.h"

static char root[256];

/* mkdir -p @root/@sub */
static void mkdirs(const char *sub)
{
	char path[512], *p;

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	for (p = path + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(path, 0755);
			*p = '/';
		}
	mkdir(path, 0755);
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sys/bus/usb/devices/%s/%s", root, dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Every CPU gets @raw in its MSR file, except @skip (no file: ENOENT). */
static int make_root(uint64_t raw, int skip)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);
	char path[512], sub[64];

	snprintf(root, sizeof(root), "/tmp/kvmdci-test-dci.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	for (int i = 0; i < n; i++) {
		if (i == skip)
			continue;
		snprintf(sub, sizeof(sub), "dev/cpu/%d", i);
		mkdirs(sub);
		snprintf(path, sizeof(path), "%s/dev/cpu/%d/msr", root, i);
		int fd = open(path, O_CREAT | O_WRONLY, 0644);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pwrite(fd, &raw, 8, 0xc80), 8);
		close(fd);
	}
	mkdirs("sys/bus/usb/devices/2-1");
	put("2-1", "idVendor", "1d6b\n");
	put("2-1", "idProduct", "0010\n");
	mkdirs("sys/bus/usb/devices/1-1");
	put("1-1", "idVendor", "046d\n");
	put("1-1", "idProduct", "c52b\n");
	return (int)n;
}

static void remove_root(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}

static bool host_sdbg(void)
{
	unsigned a, b, c = 0, d;

	__get_cpuid(1, &a, &b, &c, &d);
	return (c >> 11) & 1;
}

START_TEST(dci_locked)
{
	struct kvmdci_dci *d = NULL;
	struct kvmdci_dci_cpu c;
	struct kvmdci_dci_usb u;
	int n = make_root(0x40000000, -1);

	ck_assert_int_eq(kvmdci_dci_probe(root, &d), 0);
	ck_assert_int_eq(kvmdci_dci_cpu_count(d), n);
	ck_assert_int_eq(kvmdci_dci_cpus_readable(d), n);
	ck_assert_int_eq(kvmdci_dci_cpu(d, n - 1, &c), 0);
	ck_assert(c.cpu == n - 1 && c.error == 0 && c.msr.raw == 0x40000000);
	ck_assert(c.msr.enable == 0 && c.msr.lock == 1 && c.msr.debug_occurred == 0);
	ck_assert_int_eq(kvmdci_dci_cpu(d, n, &c), -ERANGE);
	ck_assert_int_eq(kvmdci_dci_usb_stack(d), 1);
	/* the DbC device is found, the mouse is not */
	ck_assert_int_eq(kvmdci_dci_usb_count(d), 1);
	ck_assert_int_eq(kvmdci_dci_usb(d, 0, &u), 0);
	ck_assert_str_eq(u.device, "2-1");
	ck_assert_str_eq(u.kind, "xHCI DbC (1d6b:0010)");
	ck_assert_int_eq(kvmdci_dci_usb(d, 1, &u), -ERANGE);
	if (host_sdbg()) {
		ck_assert_int_eq(kvmdci_dci_state(d), KVMDCI_DCI_LOCKED);
		ck_assert_ptr_nonnull(strstr(kvmdci_dci_verdict(d), "locked by firmware"));
	} else {
		ck_assert_int_eq(kvmdci_dci_state(d), KVMDCI_DCI_NOT_POSSIBLE);
		ck_assert_ptr_nonnull(strstr(kvmdci_dci_verdict(d), "SDBG is clear"));
	}
	ck_assert_ptr_eq(kvmdci_dci_ref(d), d);
	kvmdci_dci_unref(d);
	ck_assert_ptr_null(kvmdci_dci_unref(d));
	remove_root();
}
END_TEST

START_TEST(dci_enabled_one_unreadable)
{
	struct kvmdci_dci *d = NULL;
	struct kvmdci_dci_cpu c;
	int n = make_root(0xc0000001, 0);

	ck_assert_int_eq(kvmdci_dci_probe(root, &d), 0);
	ck_assert_int_eq(kvmdci_dci_cpus_readable(d), n - 1);
	ck_assert_int_eq(kvmdci_dci_cpu(d, 0, &c), 0);
	ck_assert_int_eq(c.error, ENOENT);
	if (n > 1) {
		ck_assert_int_eq(kvmdci_dci_cpu(d, 1, &c), 0);
		ck_assert(c.msr.enable == 1 && c.msr.lock == 1 && c.msr.debug_occurred == 1);
	}
	if (host_sdbg())
		ck_assert_int_eq(kvmdci_dci_state(d),
				 n > 1 ? KVMDCI_DCI_ENABLED : KVMDCI_DCI_UNKNOWN);
	kvmdci_dci_unref(d);
	remove_root();
}
END_TEST

START_TEST(dci_no_sysfs)
{
	struct kvmdci_dci *d = NULL;

	ck_assert_int_eq(kvmdci_dci_probe("/nonexistent-kvmdci-root", &d), 0);
	ck_assert_int_eq(kvmdci_dci_cpus_readable(d), 0);
	ck_assert_int_eq(kvmdci_dci_usb_stack(d), 0);
	ck_assert_str_eq(kvmdci_dci_usb_dir(d), "/nonexistent-kvmdci-root/sys/bus/usb/devices");
	ck_assert_int_eq(kvmdci_dci_state(d),
			 host_sdbg() ? KVMDCI_DCI_UNKNOWN : KVMDCI_DCI_NOT_POSSIBLE);
	if (host_sdbg())
		ck_assert_ptr_nonnull(strstr(kvmdci_dci_verdict(d), "modprobe msr"));
	ck_assert_str_eq(kvmdci_dci_state_name(KVMDCI_DCI_NOT_POSSIBLE), "not_possible");
	ck_assert_str_eq(kvmdci_dci_state_name(KVMDCI_DCI_DISABLED), "disabled");
	ck_assert_ptr_null(kvmdci_dci_state_name((enum kvmdci_dci_state)99));
	kvmdci_dci_unref(d);
}
END_TEST

static Suite *dci_suite(void)
{
	Suite *s = suite_create("dci");
	TCase *tc = tcase_create("probe");
	tcase_add_test(tc, dci_locked);
	tcase_add_test(tc, dci_enabled_one_unreadable);
	tcase_add_test(tc, dci_no_sysfs);
	suite_add_tcase(s, tc);
	return s;
}
TEST_SUITE(dci_suite);
