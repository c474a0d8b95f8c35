/* The TFTP wire format (RFC 1350, RFC 2347): decode requests and replies from
 * untrusted datagrams, encode what the server sends.  Pure: no I/O, no globals.
 * This is the only module that touches raw packet bytes. */
#ifndef CTFTPD_PACKET_H
#define CTFTPD_PACKET_H

#include <stddef.h>
#include <stdint.h>

enum tftp_opcode {
	TFTP_RRQ = 1,
	TFTP_WRQ = 2,
	TFTP_DATA = 3,
	TFTP_ACK = 4,
	TFTP_ERROR = 5,
	TFTP_OACK = 6, /* RFC 2347 */
};

/* Error codes, RFC 1350 section 5 and RFC 2347 (8). */
enum tftp_error_code {
	TFTP_EUNDEF = 0,
	TFTP_ENOTFOUND = 1,
	TFTP_EACCESS = 2,
	TFTP_ENOSPACE = 3,
	TFTP_EBADOP = 4,
	TFTP_EBADID = 5,
	TFTP_EEXISTS = 6,
	TFTP_ENOUSER = 7,
	TFTP_EOPTNEG = 8,
};

enum tftp_mode {
	TFTP_MODE_OCTET,
	TFTP_MODE_NETASCII,
	TFTP_MODE_MAIL, /* obsolete (RFC 1350 section 1); refused */
	TFTP_MODE_UNKNOWN,
};

/* Bytes of the opcode and block number in front of every DATA payload. */
#define TFTP_DATA_HEADER 4
/* RFC 1350 block size, and the largest RFC 2348 allows. */
#define TFTP_BLKSIZE_DEFAULT 512
#define TFTP_BLKSIZE_MAX 65464

/* A decoded RRQ or WRQ.  The pointers point into the datagram, which must
 * outlive the struct; filename and mode_name are NUL-terminated there. */
struct tftp_request {
	enum tftp_opcode opcode;
	const char *filename;
	size_t filename_len; /* bytes, without the NUL */
	const char *mode_name;
	enum tftp_mode mode;
	const char *options; /* RFC 2347 name/value area after the mode */
	size_t options_len;  /* bytes; 0 when there are no options */
};

/* Decode an RRQ or WRQ (RFC 1350 section 5, RFC 2347).  Returns 0 and fills
 * req, or -1 with *why set to a static description of what is wrong (wrong
 * opcode, missing NUL, empty name...).  An unknown mode is not an error here:
 * req->mode says TFTP_MODE_UNKNOWN and the caller answers ERROR 4. */
int packet_parse_request(const void *buf, size_t len, struct tftp_request *req,
			 const char **why);

/* Walks the RFC 2347 option list of a request. */
struct packet_option_iter {
	const char *next;
	const char *end;
};

void packet_options_begin(struct packet_option_iter *it,
			  const struct tftp_request *req);

/* Yield the next name/value pair (both NUL-terminated in the datagram).
 * Returns 1 with *name and *value set, 0 at the end, -1 when the remaining
 * bytes are not a well-formed pair (a name without a value, or a string
 * without its NUL); the iterator then stays at its end. */
int packet_options_next(struct packet_option_iter *it, const char **name,
			const char **value);

/* A decoded reply from a client during a transfer. */
struct tftp_packet {
	enum tftp_opcode opcode;
	uint16_t block;	       /* DATA, ACK */
	uint16_t error_code;   /* ERROR */
	const char *error_msg; /* ERROR: NUL-terminated, or "" if absent */
	const uint8_t *data;   /* DATA payload */
	size_t data_len;       /* bytes */
};

/* Decode a DATA, ACK or ERROR datagram.  Returns 0, or -1 with *why set when
 * the datagram is too short or has another opcode.  An ERROR whose message
 * lacks its NUL decodes with an empty message (clients get this wrong). */
int packet_parse_reply(const void *buf, size_t len, struct tftp_packet *pkt,
		       const char **why);

/* Encode an ERROR (RFC 1350 section 5) into buf (cap bytes).  The message is
 * cut to fit.  Returns the datagram length in bytes, or 0 if cap < 5. */
size_t packet_build_error(void *buf, size_t cap, uint16_t code,
			  const char *msg);

/* Write the 4-byte DATA header for a block number into buf. */
void packet_build_data_header(void *buf, uint16_t block);

/* Encode an ACK.  buf holds at least 4 bytes.  Returns 4. */
size_t packet_build_ack(void *buf, uint16_t block);

/* The standard message for an error code, for ERROR packets. */
const char *packet_error_message(uint16_t code);

/* Name of an opcode for logs ("RRQ", "DATA"...), "unknown" otherwise. */
const char *packet_opcode_name(unsigned opcode);

/* One packet as a per-packet log line (--verbose=3) names it: "DATA 7, 512
 * bytes", "ACK 7", "OACK blksize=1468 tsize=3", "ERROR 1 \"not found\"",
 * "RRQ", or "junk, N bytes".  head: the first headlen bytes of the datagram
 * (at least the 4-byte DATA header for DATA; the whole packet otherwise);
 * total: the datagram's full length in bytes.  Bytes outside printable ASCII
 * are escaped.  Writes at most outsz bytes, always NUL-terminated (outsz >=
 * 1).  Returns out. */
char *packet_describe(const void *head, size_t headlen, size_t total, char *out,
		      size_t outsz);

/* Mode name for logs: "octet", "netascii"... */
const char *packet_mode_name(enum tftp_mode mode);

#endif
