/* Shared by the libFuzzer targets in tests/fuzz: the entry point libFuzzer
 * calls, and the invariant check.  A failed check aborts, which libFuzzer
 * reports as a finding and saves the input that caused it; so does any
 * AddressSanitizer or UndefinedBehaviorSanitizer report. */
#ifndef CTFTPD_FUZZ_H
#define CTFTPD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called by libFuzzer once per input (size bytes at data).  Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                 \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", \
				__FILE__, __LINE__, #cond);              \
			abort();                                         \
		}                                                        \
	} while (0)

/* A big-endian 16-bit number from two input bytes. */
static inline unsigned fuzz_get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

#endif
