/* CHECK for the C test drivers: counts checks and failures, and prints each
 * failed one with its line.  A driver reports "N checks, M failed" and exits
 * 1 when M > 0. */
#ifndef CTFTPD_TESTS_CHECK_H
#define CTFTPD_TESTS_CHECK_H

#include <stdio.h>

static int failures, checks;

#define CHECK(cond)                                                            \
	do {                                                                   \
		checks++;                                                      \
		if (!(cond)) {                                                 \
			failures++;                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#endif
