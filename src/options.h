/* Option negotiation (RFC 2347) for blksize (RFC 2348), timeout and tsize
 * (RFC 2349) and windowsize (RFC 7440): request options in, the accepted
 * set out, and the OACK that says so.  Pure: no I/O, no globals. */
#ifndef CTFTPD_OPTIONS_H
#define CTFTPD_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

/* Bits for the options ctftpd knows, in options_limits.refused and
 * options_accepted.present. */
enum {
	OPTION_BLKSIZE = 1 << 0,
	OPTION_TIMEOUT = 1 << 1,
	OPTION_TSIZE = 1 << 2,
	OPTION_WINDOWSIZE = 1 << 3,
};

#define OPTIONS_TIMEOUT_MAX 255	     /* seconds, RFC 2349 */
#define OPTIONS_WINDOWSIZE_MAX 65535 /* blocks, RFC 7440 */
/* The largest window ctftpd grants: with 16-bit block numbers an ACK is
 * placed in the window by its distance from the last one acknowledged, which
 * is unambiguous only while the window is under half the number space. */
#define OPTIONS_WINDOWSIZE_GRANT_MAX 32767

/* What the server is willing to grant. */
struct options_limits {
	unsigned max_blksize;	 /* bytes, 8..65464 */
	unsigned max_windowsize; /* blocks, 1..65535 */
	unsigned refused; /* OPTION_* bits the server ignores (--refuse) */
};

/* The outcome: what goes in the OACK, and what the transfer uses. */
struct options_accepted {
	unsigned present;    /* OPTION_* bits to acknowledge in the OACK */
	unsigned blksize;    /* bytes (512 unless negotiated) */
	unsigned timeout;    /* seconds, when OPTION_TIMEOUT is present */
	unsigned windowsize; /* blocks (1 unless negotiated) */
	uint64_t tsize;	     /* bytes: the client's value (WRQ) */
};

/* Negotiate the options of req within lim.  Unknown options, values out of
 * range or not plain decimal, and duplicates of an option already seen are
 * ignored (left out of the OACK), as RFC 2347 allows; a malformed tail
 * (a name without a value) is ignored too.  A blksize or windowsize above
 * the limit is granted at the limit (RFC 2348 section 2 lets the server
 * answer with a smaller value).  Never fails. */
void options_negotiate(const struct tftp_request *req,
		       const struct options_limits *lim,
		       struct options_accepted *out);

/* Encode the OACK (RFC 2347) for acc into buf (cap bytes), with tsize as the
 * value of a present tsize option (the file's size in bytes, for an RRQ).
 * Option names go out in lower case.  Returns the datagram length, or 0 when
 * nothing is present or cap is too small. */
size_t options_build_oack(void *buf, size_t cap,
			  const struct options_accepted *acc, uint64_t tsize);

/* Parse the name of a known option (case-insensitive) into its OPTION_* bit.
 * Returns 0 for an unknown name.  Used by --refuse. */
unsigned options_bit(const char *name);

#endif
