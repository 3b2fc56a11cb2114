// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Runs every unit suite that a test file registered with TEST_SUITE() (see test-common.h);
 * CK_FORK=no for valgrind (see the valgrind test setup).
 */
#include <stdio.h>
#include <stdlib.h>

#include "test-common.h"

int main(void)
{
	SRunner *sr = NULL;
	int failed, n = 0;

	for (const struct test_suite *t = __start_kvmdci_test_suites;
	     t < __stop_kvmdci_test_suites; t++, n++) {
		if (!sr)
			sr = srunner_create(t->create());
		else
			srunner_add_suite(sr, t->create());
	}
	if (!sr) {
		fprintf(stderr, "no unit suite registered: is TEST_SUITE() in each test file?\n");
		return EXIT_FAILURE;
	}
	printf("%d suites registered\n", n);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
