// SPDX-License-Identifier: LGPL-2.1-or-later
/* The main() of every kvmdci-* tool: the tool's own (tool_main) and one check after it. */
#include <stdio.h>

#define TOOL_MAIN_ITSELF
#include "shared.h"

int main(int argc, char **argv)
{
	int status = tool_main(argc, argv);
	const char *lost = tool_target_lost();

	/* a walk the lost target cut short is a failure, whatever the tool made of it */
	if (lost && status == 0) {
		fflush(stdout);
		fprintf(stderr, "%s: incomplete: %s\n",
			tool_program_name ? tool_program_name : "kvmdci", lost);
		status = 1;
	}
	return status;
}
