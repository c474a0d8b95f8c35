/* Unit tests for the pure modules: packet codec, netascii, path policy,
 * option negotiation, retransmission timer, rate limits, and the read
 * side's block source over a file in a temporary directory.
 * Usage: unit packet | netascii | path | options | rto | ratelimit | source |
 * shmem.
 * Prints
 * each failed check and exits 1 if any failed, 0 otherwise.  Inputs are hostile
 * on purpose. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netascii.h"
#include "options.h"
#include "packet.h"
#include "path.h"
#include "ratelimit.h"
#include "rto.h"
#include "shmem.h"
#include "reference.h"
#include "source.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Build a datagram from a opcode and a byte string with embedded NULs. */
static size_t dgram(unsigned char *buf, unsigned opcode, const char *body,
		    size_t bodylen)
{
	buf[0] = (unsigned char)(opcode >> 8);
	buf[1] = (unsigned char)opcode;
	memcpy(buf + 2, body, bodylen);
	return 2 + bodylen;
}

static void test_packet(void)
{
	unsigned char b[1024];
	struct tftp_request req;
	struct tftp_packet pkt;
	struct packet_option_iter it;
	const char *why, *name, *value;
	size_t n;

	/* A well-formed RRQ, mode in mixed case. */
	n = dgram(b, TFTP_RRQ, "boot/pxe.0\0OcTeT\0", 17);
	CHECK(packet_parse_request(b, n, &req, &why) == 0);
	CHECK(req.opcode == TFTP_RRQ);
	CHECK(req.filename_len == 10 &&
	      strcmp(req.filename, "boot/pxe.0") == 0);
	CHECK(req.mode == TFTP_MODE_OCTET);
	CHECK(req.options_len == 0);
	n = dgram(b, TFTP_WRQ, "x\0NETASCII\0", 11);
	CHECK(packet_parse_request(b, n, &req, &why) == 0);
	CHECK(req.opcode == TFTP_WRQ && req.mode == TFTP_MODE_NETASCII);
	n = dgram(b, TFTP_RRQ, "x\0mail\0", 7);
	CHECK(packet_parse_request(b, n, &req, &why) == 0 &&
	      req.mode == TFTP_MODE_MAIL);
	n = dgram(b, TFTP_RRQ, "x\0octet2\0", 9);
	CHECK(packet_parse_request(b, n, &req, &why) == 0 &&
	      req.mode == TFTP_MODE_UNKNOWN);

	/* Truncations at every length: never accepted, never read past. */
	n = dgram(b, TFTP_RRQ, "file\0octet\0", 11);
	for (size_t len = 0; len < n; len++) {
		unsigned char *copy = malloc(len ? len : 1);
		memcpy(copy, b, len);
		CHECK(packet_parse_request(copy, len, &req, &why) != 0);
		free(copy);
	}
	/* Empty mode, missing NULs, wrong opcodes. */
	n = dgram(b, TFTP_RRQ, "file\0\0", 6);
	CHECK(packet_parse_request(b, n, &req, &why) != 0);
	n = dgram(b, TFTP_RRQ, "fileoctet", 9);
	CHECK(packet_parse_request(b, n, &req, &why) != 0);
	for (unsigned op = 0; op < 300; op++) {
		if (op == TFTP_RRQ || op == TFTP_WRQ)
			continue;
		n = dgram(b, op, "f\0octet\0", 8);
		CHECK(packet_parse_request(b, n, &req, &why) != 0);
	}
	/* An empty name parses; the path policy refuses it. */
	n = dgram(b, TFTP_RRQ, "\0octet\0", 7);
	CHECK(packet_parse_request(b, n, &req, &why) == 0 &&
	      req.filename_len == 0);

	/* Options: pairs, a dangling name, an unterminated value. */
	n = dgram(b, TFTP_RRQ,
		  "f\0octet\0blksize\0"
		  "1468\0tsize\0"
		  "0\0",
		  29);
	CHECK(packet_parse_request(b, n, &req, &why) == 0);
	packet_options_begin(&it, &req);
	CHECK(packet_options_next(&it, &name, &value) == 1 &&
	      strcmp(name, "blksize") == 0 && strcmp(value, "1468") == 0);
	CHECK(packet_options_next(&it, &name, &value) == 1 &&
	      strcmp(name, "tsize") == 0 && strcmp(value, "0") == 0);
	CHECK(packet_options_next(&it, &name, &value) == 0);
	n = dgram(b, TFTP_RRQ, "f\0octet\0blksize\0", 16);
	CHECK(packet_parse_request(b, n, &req, &why) == 0);
	packet_options_begin(&it, &req);
	CHECK(packet_options_next(&it, &name, &value) == -1);
	CHECK(packet_options_next(&it, &name, &value) == 0);
	n = dgram(b, TFTP_RRQ,
		  "f\0octet\0blksize\0"
		  "14",
		  18);
	CHECK(packet_parse_request(b, n, &req, &why) == 0);
	packet_options_begin(&it, &req);
	CHECK(packet_options_next(&it, &name, &value) == -1);

	/* Replies. */
	CHECK(packet_parse_reply("\0\4\1\2", 4, &pkt, &why) == 0 &&
	      pkt.opcode == TFTP_ACK && pkt.block == 0x0102);
	CHECK(packet_parse_reply("\0\4\1", 3, &pkt, &why) != 0);
	CHECK(packet_parse_reply("\0\3\0\1abc", 7, &pkt, &why) == 0 &&
	      pkt.opcode == TFTP_DATA && pkt.data_len == 3);
	CHECK(packet_parse_reply("\0\5\0\1oops", 8, &pkt, &why) == 0 &&
	      pkt.opcode == TFTP_ERROR && pkt.error_code == 1 &&
	      strcmp(pkt.error_msg, "") == 0);
	CHECK(packet_parse_reply("\0\5\0\10no\0", 7, &pkt, &why) == 0 &&
	      pkt.error_code == 8 && strcmp(pkt.error_msg, "no") == 0);
	CHECK(packet_parse_reply("\0\1\0\0", 4, &pkt, &why) != 0);
	CHECK(packet_parse_reply("\0\11\0\0", 4, &pkt, &why) != 0);

	/* Encoders. */
	CHECK(packet_build_error(b, 4, 1, "x") == 0);
	n = packet_build_error(b, sizeof(b), TFTP_ENOTFOUND, NULL);
	CHECK(n == 5 + strlen("File not found") && b[1] == 5 && b[3] == 1 &&
	      b[n - 1] == '\0');
	n = packet_build_error(b, 10, TFTP_EUNDEF, "a long message");
	CHECK(n == 10 && b[9] == '\0' && memcmp(b + 4, "a lon", 5) == 0);
	packet_build_data_header(b, 0xabcd);
	CHECK(b[0] == 0 && b[1] == 3 && b[2] == 0xab && b[3] == 0xcd);
	CHECK(packet_build_ack(b, 7) == 4 && b[1] == 4 && b[3] == 7);
	CHECK(strcmp(packet_opcode_name(99), "unknown") == 0);

	/* What --verbose=3 prints of a packet: bounded, escaped. */
	char d[64];
	packet_build_data_header(b, 7);
	CHECK(strcmp(packet_describe(b, 4, 516, d, sizeof(d)),
		     "DATA 7, 512 bytes") == 0);
	CHECK(strcmp(packet_describe("\0\4\1\2", 4, 4, d, sizeof(d)),
		     "ACK 258") == 0);
	CHECK(strcmp(packet_describe("\0\6blksize\0001468\0tsize\0003\0", 23,
				     23, d, sizeof(d)),
		     "OACK blksize=1468 tsize=3") == 0);
	CHECK(strcmp(packet_describe("\0\5\0\1no \"x\"\n\0", 12, 12, d,
				     sizeof(d)),
		     "ERROR 1 \"no \\x22x\\x22\\x0a\"") == 0);
	CHECK(strcmp(packet_describe("\0\5\0\1abc", 7, 7, d, sizeof(d)),
		     "ERROR 1 \"abc\"") == 0); /* no NUL: cut at the end */
	CHECK(strcmp(packet_describe("\0\1a\0octet\0", 10, 10, d, sizeof(d)),
		     "RRQ a octet") == 0);
	CHECK(strcmp(packet_describe("\0\11\0\0", 4, 4, d, sizeof(d)),
		     "junk, 4 bytes") == 0);
	CHECK(strcmp(packet_describe("\0", 1, 1, d, sizeof(d)),
		     "junk, 1 bytes") == 0);
	memset(b, 'x', sizeof(b));
	b[0] = 0;
	b[1] = 6;
	CHECK(strlen(packet_describe(b, sizeof(b), sizeof(b), d, 16)) < 16);
}

/* Decode in (len bytes) cut into random slices; returns the bytes out. */
static size_t decode_sliced(const uint8_t *in, size_t len, uint8_t *out)
{
	struct netascii_decoder dec;
	size_t pos = 0, o = 0;

	netascii_decoder_init(&dec);
	while (pos < len) {
		size_t slice = 1 + (size_t)rand() % 600;
		if (slice > len - pos)
			slice = len - pos;
		o += netascii_decode(&dec, in + pos, slice, out + o);
		pos += slice;
	}
	return o + netascii_decode_finish(&dec, out + o);
}

/* Uploads: CR LF -> LF, CR NUL -> CR, across any cut; a final CR kept;
 * decoding what the encoder made gives the original back. */
static void test_netascii_decode(void)
{
	static uint8_t in[20000], enc[40000], got[40001];
	struct netascii_decoder dec;
	size_t n;

	netascii_decoder_init(&dec);
	n = netascii_decode(&dec, (const uint8_t *)"a\r\nb\r\0c\rd", 9, got);
	n += netascii_decode_finish(&dec, got + n);
	CHECK(n == 7 && memcmp(got, "a\nb\rc\rd", 7) == 0);
	/* A pair split across two blocks, and a CR at the very end. */
	netascii_decoder_init(&dec);
	n = netascii_decode(&dec, (const uint8_t *)"x\r", 2, got);
	CHECK(n == 1 && got[0] == 'x');
	n = netascii_decode(&dec, (const uint8_t *)"\n", 1, got);
	CHECK(n == 1 && got[0] == '\n');
	n = netascii_decode(&dec, (const uint8_t *)"\r", 1, got);
	CHECK(n == 0);
	n = netascii_decode_finish(&dec, got);
	CHECK(n == 1 && got[0] == '\r');
	CHECK(netascii_decode_finish(&dec, got) == 0);
	/* CR CR LF: the first CR stays a CR. */
	netascii_decoder_init(&dec);
	n = netascii_decode(&dec, (const uint8_t *)"\r\r\n", 3, got);
	CHECK(n == 2 && memcmp(got, "\r\n", 2) == 0);

	srand(54321);
	for (int round = 0; round < 300; round++) {
		size_t len = (size_t)rand() % sizeof(in), elen, used;
		struct netascii_encoder e;
		for (size_t i = 0; i < len; i++) {
			int r = rand() % 6;
			in[i] = r == 0 ? '\n' : r == 1 ? '\r' : (uint8_t)rand();
		}
		netascii_encoder_init(&e);
		elen = netascii_encode(&e, in, len, &used, enc, sizeof(enc));
		CHECK(used == len && !netascii_encoder_pending(&e));
		n = decode_sliced(enc, elen, got);
		CHECK(n == len && memcmp(got, in, len) == 0);
		/* Hostile input (bare CRs before anything) never writes more
		 * than it reads, plus the one held CR. */
		n = decode_sliced(in, len, got);
		CHECK(n <= len);
	}
}

static void test_netascii(void)
{
	static uint8_t in[20000], want[40000], got[40000];
	struct netascii_encoder enc;
	size_t used, n;

	netascii_encoder_init(&enc);
	n = netascii_encode(&enc, (const uint8_t *)"a\nb\rc", 5, &used, got,
			    sizeof(got));
	CHECK(used == 5 && n == 7 && memcmp(got, "a\r\nb\r\0c", 7) == 0);
	CHECK(!netascii_encoder_pending(&enc));

	/* A pair split across two one-byte-short buffers. */
	netascii_encoder_init(&enc);
	n = netascii_encode(&enc, (const uint8_t *)"\n", 1, &used, got, 1);
	CHECK(n == 1 && used == 1 && got[0] == '\r' &&
	      netascii_encoder_pending(&enc));
	n = netascii_encode(&enc, NULL, 0, &used, got, 4);
	CHECK(n == 1 && got[0] == '\n' && !netascii_encoder_pending(&enc));
	n = netascii_encode(&enc, (const uint8_t *)"x", 1, &used, got, 0);
	CHECK(n == 0 && used == 0);

	/* Random inputs rich in CR and LF, cut into random block sizes
	 * (including 1): the concatenated output equals the reference. */
	srand(12345);
	for (int round = 0; round < 300; round++) {
		size_t len = (size_t)rand() % sizeof(in), wlen, glen = 0,
		       pos = 0;
		for (size_t i = 0; i < len; i++) {
			int r = rand() % 8;
			in[i] = r == 0 ? '\n' : r == 1 ? '\r' : (uint8_t)rand();
		}
		wlen = reference_netascii(in, len, want);
		CHECK(netascii_encoded_size(in, len) == wlen);
		netascii_encoder_init(&enc);
		for (;;) {
			size_t cap = 1 + (size_t)rand() % 700;
			/* Feed input in random slices as well. */
			size_t slice = (size_t)rand() % 900;
			if (slice > len - pos)
				slice = len - pos;
			n = netascii_encode(&enc, in + pos, slice, &used,
					    got + glen, cap);
			pos += used;
			glen += n;
			if (pos == len && !netascii_encoder_pending(&enc))
				break;
			if (glen > sizeof(got) - 1000)
				break;
		}
		CHECK(glen == wlen && memcmp(got, want, wlen) == 0);
	}
	test_netascii_decode();
}

static enum path_result norm(const char *root, const char *name, char *out,
			     size_t outsz)
{
	return path_normalize(root, name, strlen(name), out, outsz);
}

static void test_path(void)
{
	char out[64];

	CHECK(norm("/srv/tftp", "boot/pxe.0", out, sizeof(out)) == PATH_OK &&
	      strcmp(out, "boot/pxe.0") == 0);
	CHECK(norm("/srv/tftp", "/boot/pxe.0", out, sizeof(out)) == PATH_OK &&
	      strcmp(out, "boot/pxe.0") == 0);
	CHECK(norm("/srv/tftp", "/srv/tftp/boot/x", out, sizeof(out)) ==
		      PATH_OK &&
	      strcmp(out, "boot/x") == 0);
	CHECK(norm("/srv/tftp/", "/srv/tftp/x", out, sizeof(out)) == PATH_OK &&
	      strcmp(out, "x") == 0);
	/* A sibling directory sharing the root's prefix is not the root. */
	CHECK(norm("/srv/tftp", "/srv/tftpx/y", out, sizeof(out)) == PATH_OK &&
	      strcmp(out, "srv/tftpx/y") == 0);
	CHECK(norm("/srv/tftp", "a//b/./c/", out, sizeof(out)) == PATH_OK &&
	      strcmp(out, "a/b/c") == 0);
	CHECK(norm("/srv/tftp", "dir\\file", out, sizeof(out)) == PATH_OK &&
	      strcmp(out, "dir\\file") == 0);
	CHECK(norm("/srv/tftp", "..a/b..", out, sizeof(out)) == PATH_OK &&
	      strcmp(out, "..a/b..") == 0);
	CHECK(norm("/", "/etc/x", out, sizeof(out)) == PATH_OK &&
	      strcmp(out, "etc/x") == 0);

	static const char *const traversal[] = {
		"..",	"../etc/passwd",    "a/../../x", "/../x", "a/..",
		"./..", "/srv/tftp/../etc", "x/../y",	 "..//",  "a/./../b",
	};
	for (size_t i = 0; i < sizeof(traversal) / sizeof(*traversal); i++)
		CHECK(norm("/srv/tftp", traversal[i], out, sizeof(out)) ==
		      PATH_TRAVERSAL);
	static const char *const empty[] = {
		"", "/", "//", ".", "./", "/./.", "/srv/tftp/", "/srv/tftp/."};
	for (size_t i = 0; i < sizeof(empty) / sizeof(*empty); i++)
		CHECK(norm("/srv/tftp", empty[i], out, sizeof(out)) ==
		      PATH_EMPTY);

	/* Output buffer bounds: exactly fitting, one short, zero. */
	CHECK(norm("/r", "abc/def", out, 8) == PATH_OK);
	CHECK(norm("/r", "abc/def", out, 7) == PATH_TOO_LONG);
	CHECK(norm("/r", "abc", out, 0) == PATH_TOO_LONG);
	char big[700];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(norm("/r", big, out, sizeof(out)) == PATH_TOO_LONG);
	CHECK(path_normalize("/r", "a\0b", 3, out, sizeof(out)) ==
	      PATH_BAD_BYTE);
	CHECK(path_result_message(PATH_TRAVERSAL)[0] != '\0');
}

/* Negotiate the options of an RRQ whose option area is opts (len bytes). */
static void negotiate(const char *opts, size_t len,
		      const struct options_limits *lim,
		      struct options_accepted *acc)
{
	unsigned char b[2048];
	struct tftp_request req;
	const char *why;
	size_t n;

	memcpy(b, "\0\1f\0octet\0", 10);
	memcpy(b + 10, opts, len);
	n = 10 + len;
	if (packet_parse_request(b, n, &req, &why) != 0)
		abort();
	options_negotiate(&req, lim, acc);
}

#define NEGOTIATE(lit, lim, acc) negotiate(lit, sizeof(lit) - 1, lim, acc)

static void test_options(void)
{
	struct options_limits lim = {
		.max_blksize = 1468, .max_windowsize = 16, .refused = 0};
	struct options_accepted acc;
	unsigned char b[600];
	size_t n;

	/* Nothing asked: RFC 1350 defaults, no OACK. */
	NEGOTIATE("", &lim, &acc);
	CHECK(acc.present == 0 && acc.blksize == 512 && acc.windowsize == 1);
	CHECK(options_build_oack(b, sizeof(b), &acc, 0) == 0);

	/* The UEFI request: granted as asked, names case-insensitive. */
	NEGOTIATE("TSIZE\0"
		  "0\0BlkSize\0"
		  "1468\0",
		  &lim, &acc);
	CHECK(acc.present == (OPTION_TSIZE | OPTION_BLKSIZE));
	CHECK(acc.blksize == 1468 && acc.tsize == 0);
	n = options_build_oack(b, sizeof(b), &acc, 123456);
	CHECK(n == 2 + 8 + 5 + 6 + 7 && memcmp(b,
					       "\0\6blksize\0"
					       "1468\0tsize\0"
					       "123456\0",
					       n) == 0);

	/* Caps: blksize and windowsize above the limits are granted at them;
	 * the RFC maxima are accepted as values. */
	NEGOTIATE("blksize\0"
		  "65464\0windowsize\0"
		  "65535\0",
		  &lim, &acc);
	CHECK(acc.blksize == 1468 && acc.windowsize == 16 &&
	      acc.present == (OPTION_BLKSIZE | OPTION_WINDOWSIZE));

	/* Windows are granted below half the block-number space, whatever
	 * the limit says: ACKs are placed in the window by 16-bit distance. */
	{
		struct options_limits wide = lim;
		wide.max_windowsize = 65535;
		NEGOTIATE("windowsize\0"
			  "65535\0",
			  &wide, &acc);
		CHECK(acc.present == OPTION_WINDOWSIZE &&
		      acc.windowsize == OPTIONS_WINDOWSIZE_GRANT_MAX);
	}

	/* Out of range, junk, signs, spaces, overflow: ignored. */
	static const char *const bad_blksize[] = {
		"blksize\0"
		"7\0",
		"blksize\0"
		"0\0",
		"blksize\0"
		"-5\0",
		"blksize\0"
		"12abc\0",
		"blksize\0 512\0",
		"blksize\0"
		"\0",
		"blksize\0"
		"+512\0",
		"blksize\0"
		"99999999999999999999999\0",
		"blksize\0"
		"0x200\0",
	};
	for (size_t i = 0; i < sizeof(bad_blksize) / sizeof(*bad_blksize);
	     i++) {
		const char *o = bad_blksize[i];
		size_t len = strlen(o) + 1;
		len += strlen(o + len) + 1;
		negotiate(o, len, &lim, &acc);
		CHECK(acc.present == 0 && acc.blksize == 512);
	}
	/* Leading zeros, however many, are part of a plain number. */
	NEGOTIATE("blksize\0"
		  "00000000000000000000000001024\0",
		  &lim, &acc);
	CHECK(acc.present == OPTION_BLKSIZE && acc.blksize == 1024);
	/* 65465 is above RFC 2348's maximum but a number: capped. */
	NEGOTIATE("blksize\0"
		  "65465\0",
		  &lim, &acc);
	CHECK(acc.present == OPTION_BLKSIZE && acc.blksize == 1468);
	NEGOTIATE("timeout\0"
		  "0\0",
		  &lim, &acc);
	CHECK(acc.present == 0);
	NEGOTIATE("timeout\0"
		  "256\0",
		  &lim, &acc);
	CHECK(acc.present == 0);
	NEGOTIATE("timeout\0"
		  "255\0",
		  &lim, &acc);
	CHECK(acc.present == OPTION_TIMEOUT && acc.timeout == 255);
	NEGOTIATE("windowsize\0"
		  "0\0",
		  &lim, &acc);
	CHECK(acc.present == 0 && acc.windowsize == 1);
	NEGOTIATE("windowsize\0"
		  "65536\0",
		  &lim, &acc);
	CHECK(acc.present == 0);

	/* Duplicates: the first wins, even when it was invalid. */
	NEGOTIATE("blksize\0"
		  "1024\0blksize\0"
		  "1400\0",
		  &lim, &acc);
	CHECK(acc.blksize == 1024);
	NEGOTIATE("blksize\0x\0blksize\0"
		  "1400\0",
		  &lim, &acc);
	CHECK(acc.present == 0 && acc.blksize == 512);

	/* Unknown options and a malformed tail are ignored. */
	NEGOTIATE("multicast\0\0blksize\0"
		  "1000\0dangling\0",
		  &lim, &acc);
	CHECK(acc.present == OPTION_BLKSIZE && acc.blksize == 1000);
	NEGOTIATE("blksize\0"
		  "1000",
		  &lim, &acc);
	CHECK(acc.present == 0);

	/* Refused options are as good as absent. */
	lim.refused = OPTION_BLKSIZE | OPTION_TSIZE;
	NEGOTIATE("blksize\0"
		  "1000\0tsize\0"
		  "0\0windowsize\0"
		  "4\0",
		  &lim, &acc);
	CHECK(acc.present == OPTION_WINDOWSIZE && acc.blksize == 512 &&
	      acc.windowsize == 4);
	n = options_build_oack(b, sizeof(b), &acc, 99);
	CHECK(n == 2 + 11 + 2 && memcmp(b + 2,
					"windowsize\0"
					"4\0",
					13) == 0);
	lim.refused = 0;

	/* 255 options: the known ones among them still count. */
	{
		char many[2048];
		size_t len = 0;
		for (int i = 0; i < 254; i++) {
			len += (size_t)snprintf(many + len, sizeof(many) - len,
						"x%d", i) +
			       1;
			many[len++] = '1';
			many[len++] = '\0';
		}
		memcpy(many + len,
		       "windowsize\0"
		       "8\0",
		       13);
		len += 13;
		negotiate(many, len, &lim, &acc);
		CHECK(acc.present == OPTION_WINDOWSIZE && acc.windowsize == 8);
	}

	/* The OACK never overruns its buffer. */
	NEGOTIATE("blksize\0"
		  "1000\0tsize\0"
		  "0\0timeout\0"
		  "3\0",
		  &lim, &acc);
	CHECK(options_build_oack(b, 10, &acc, UINT64_MAX) == 0);
	n = options_build_oack(b, sizeof(b), &acc, UINT64_MAX);
	/* tsize comes last: the largest 64-bit value, all 20 digits. */
	CHECK(n > 21 && memcmp(b + n - 21, "18446744073709551615", 21) == 0);

	CHECK(options_bit("WindowSize") == OPTION_WINDOWSIZE);
	CHECK(options_bit("multicast") == 0);
}

static void test_rto(void)
{
	struct rto r;

	/* Before any sample: the initial value (--timeout), no lower, and
	 * progress alone does not lower it. */
	rto_init(&r, 1000, RTO_FLOOR_MS, RTO_BACKOFF_MAX_MS);
	CHECK(rto_timeout_ms(&r) == 1000);
	rto_progress(&r);
	CHECK(rto_timeout_ms(&r) == 1000);
	/* Backoff before a sample doubles past --timeout. */
	rto_backoff(&r);
	CHECK(rto_timeout_ms(&r) == 2000);

	/* A LAN round trip of 200 us: srtt 200, rttvar 100, RTO = srtt +
	 * max(G, 4 rttvar) = 1.2 ms, raised to the floor. */
	rto_sample(&r, 200);
	CHECK(rto_timeout_ms(&r) == RTO_FLOOR_MS);
	/* Steady samples keep it at the floor. */
	for (int i = 0; i < 100; i++)
		rto_sample(&r, 200);
	CHECK(rto_timeout_ms(&r) == RTO_FLOOR_MS);
	/* Backoff doubles, past --timeout, up to the backoff ceiling and
	 * never past it: a client that ignores duplicates and waits 5 s
	 * (U-Boot) gets a longer gap after a bounded number of resends. */
	rto_backoff(&r);
	CHECK(rto_timeout_ms(&r) == 2 * RTO_FLOOR_MS);
	unsigned total = 2 * RTO_FLOOR_MS, steps = 1;
	while (rto_timeout_ms(&r) <= 5000) {
		rto_backoff(&r);
		total += rto_timeout_ms(&r);
		steps++;
	}
	CHECK(steps <= 10 && total < 30000);
	for (int i = 0; i < 20; i++)
		rto_backoff(&r);
	CHECK(rto_timeout_ms(&r) == RTO_BACKOFF_MAX_MS);
	/* Progress without a sample (Karn) undoes the backoff too. */
	rto_progress(&r);
	CHECK(rto_timeout_ms(&r) == RTO_FLOOR_MS);
	rto_backoff(&r);
	rto_backoff(&r);
	CHECK(rto_timeout_ms(&r) == 4 * RTO_FLOOR_MS);
	rto_progress(&r);
	CHECK(rto_timeout_ms(&r) == RTO_FLOOR_MS);
	for (int i = 0; i < 20; i++)
		rto_backoff(&r);
	/* A sample ends the backoff. */
	rto_sample(&r, 200);
	CHECK(rto_timeout_ms(&r) < 1000);

	/* A slow path: 100 ms round trips converge to about srtt + 4 rttvar,
	 * and samples never exceed the cap (--timeout). */
	rto_init(&r, 1000, RTO_FLOOR_MS, RTO_BACKOFF_MAX_MS);
	rto_sample(&r, 100000); /* 100 + 4 * 50 = 300 ms */
	CHECK(rto_timeout_ms(&r) == 300);
	for (int i = 0; i < 200; i++)
		rto_sample(&r, 100000);
	CHECK(rto_timeout_ms(&r) >= 100 && rto_timeout_ms(&r) <= 110);
	rto_sample(&r, 5000000); /* a 5 s outlier */
	CHECK(rto_timeout_ms(&r) == 1000);

	/* Rounding up: never a timeout shorter than the RTT. */
	rto_init(&r, 255000, RTO_FLOOR_MS, RTO_BACKOFF_MAX_MS);
	for (int i = 0; i < 200; i++)
		rto_sample(&r, 30500);
	CHECK(rto_timeout_ms(&r) >= 31);

	/* Adaptation off (--min-timeout at --timeout): samples change
	 * nothing, silence still backs off. */
	rto_init(&r, 3000, 3000, RTO_BACKOFF_MAX_MS);
	rto_sample(&r, 100);
	CHECK(rto_timeout_ms(&r) == 3000);
	rto_progress(&r);
	CHECK(rto_timeout_ms(&r) == 3000);
	rto_backoff(&r);
	CHECK(rto_timeout_ms(&r) == 6000);
	/* ... and progress or a sample ends the backoff. */
	rto_progress(&r);
	CHECK(rto_timeout_ms(&r) == 3000);
	rto_backoff(&r);
	rto_sample(&r, 100);
	CHECK(rto_timeout_ms(&r) == 3000);
	/* Before any sample, progress returns to the initial value. */
	rto_init(&r, 1000, RTO_FLOOR_MS, RTO_BACKOFF_MAX_MS);
	rto_backoff(&r);
	rto_backoff(&r);
	rto_progress(&r);
	CHECK(rto_timeout_ms(&r) == 1000);

	/* The strict reading of a client's timeout (RFC 2349): fixed, no
	 * adaptation and no backoff. */
	rto_init(&r, 3000, 3000, 3000);
	rto_sample(&r, 100);
	rto_backoff(&r);
	CHECK(rto_timeout_ms(&r) == 3000);

	/* A client's timeout caps the timer instead of fixing it: below the
	 * cap the timer adapts (RFC 1123 4.2.3.2). */
	rto_init(&r, 5000, RTO_FLOOR_MS, RTO_BACKOFF_MAX_MS);
	rto_sample(&r, 300);
	CHECK(rto_timeout_ms(&r) == RTO_FLOOR_MS);
	rto_sample(&r, 9000000);
	CHECK(rto_timeout_ms(&r) == 5000);

	/* A --timeout at the floor or below it cannot adapt downwards. */
	rto_init(&r, 10, RTO_FLOOR_MS, RTO_BACKOFF_MAX_MS);
	rto_sample(&r, 1);
	CHECK(rto_timeout_ms(&r) == 10);
	/* --min-timeout sets the floor. */
	rto_init(&r, 1000, 250, RTO_BACKOFF_MAX_MS);
	rto_sample(&r, 100);
	CHECK(rto_timeout_ms(&r) == 250);

	/* A ceiling below the initial value is raised to it. */
	rto_init(&r, 20000, RTO_FLOOR_MS, RTO_BACKOFF_MAX_MS);
	rto_backoff(&r);
	CHECK(rto_timeout_ms(&r) == 20000);

	/* Hostile values: zero and huge samples, many backoffs. */
	rto_init(&r, 255000, RTO_FLOOR_MS, RTO_BACKOFF_MAX_MS);
	rto_sample(&r, 0);
	CHECK(rto_timeout_ms(&r) == RTO_FLOOR_MS);
	rto_sample(&r, UINT64_MAX / 16);
	CHECK(rto_timeout_ms(&r) == 255000);
	for (int i = 0; i < 100; i++)
		rto_backoff(&r);
	CHECK(rto_timeout_ms(&r) == 255000);
	rto_init(&r, 1000, RTO_FLOOR_MS, UINT32_MAX);
	for (int i = 0; i < 100; i++)
		rto_backoff(&r);
	CHECK(rto_timeout_ms(&r) == UINT32_MAX);
}

/* An address for the rate-limit table: IPv4 "a.b.c.d" or IPv6 "x::y". */
static union sockaddr_any addr_of(const char *host, unsigned port)
{
	union sockaddr_any a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, host, &a.sin.sin_addr) == 1) {
		a.sin.sin_family = AF_INET;
		a.sin.sin_port = htons((uint16_t)port);
	} else {
		a.sin6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &a.sin6.sin6_addr) != 1)
			abort();
		a.sin6.sin6_port = htons((uint16_t)port);
	}
	return a;
}

static void test_ratelimit(void)
{
	static struct ratelimit_table t;
	struct ratelimit_bucket b;
	struct ratelimit_source *s, *s2;
	union sockaddr_any a, m;
	int n;

	/* 5 a second, bursts of 10: a fresh bucket is full. */
	memset(&b, 0, sizeof(b));
	for (n = 0; n < 100 && ratelimit_take(&b, 5, 10, 1000); n++)
		;
	CHECK(n == 10);
	/* One token per 200 ms, not before. */
	CHECK(!ratelimit_take(&b, 5, 10, 1199));
	CHECK(ratelimit_take(&b, 5, 10, 1200));
	CHECK(!ratelimit_take(&b, 5, 10, 1200));
	/* Refilled to the burst, never beyond it. */
	for (n = 0; n < 100 && ratelimit_take(&b, 5, 10, 100000); n++)
		;
	CHECK(n == 10);
	/* A clock that goes back takes nothing from the bucket. */
	CHECK(!ratelimit_take(&b, 5, 10, 5000));
	/* rate 0: no limit; burst 0 counts as 1. */
	memset(&b, 0, sizeof(b));
	for (n = 0; n < 1000 && ratelimit_take(&b, 0, 0, 0); n++)
		;
	CHECK(n == 1000);
	memset(&b, 0, sizeof(b));
	CHECK(ratelimit_take(&b, 1, 0, 0));
	CHECK(!ratelimit_take(&b, 1, 0, 0));
	CHECK(ratelimit_take(&b, 1, 0, 1000));
	/* Hostile values: the largest rate and burst, the clock far ahead. */
	memset(&b, 0, sizeof(b));
	CHECK(ratelimit_take(&b, 100000, 200000, 0));
	CHECK(ratelimit_take(&b, 100000, 200000, INT64_MAX / 2));
	CHECK(b.milli == 200000ull * 1000 - 1000);

	/* The table: one entry per host, whatever the port; IPv4 and its
	 * IPv4-mapped IPv6 form are the same host. */
	ratelimit_table_init(&t, 12345);
	a = addr_of("192.0.2.1", 1000);
	s = ratelimit_lookup(&t, &a, 0);
	CHECK(s != NULL && s->used);
	a = addr_of("192.0.2.1", 2000);
	CHECK(ratelimit_lookup(&t, &a, 1) == s);
	m = addr_of("::ffff:192.0.2.1", 3000);
	CHECK(ratelimit_lookup(&t, &m, 2) == s);
	CHECK(net_same_host(&a, &m));
	m = addr_of("192.0.2.2", 1000);
	CHECK(ratelimit_lookup(&t, &m, 3) != s);
	CHECK(!net_same_host(&a, &m));
	m = addr_of("2001:db8::1", 1000);
	s2 = ratelimit_lookup(&t, &m, 3);
	CHECK(s2 != s && ratelimit_lookup(&t, &m, 4) == s2);
	/* State kept across lookups. */
	CHECK(ratelimit_take(&s->requests, 1, 1, 10));
	CHECK(!ratelimit_take(&ratelimit_lookup(&t, &a, 11)->requests, 1, 1,
			      11));
	/* Far more hosts than slots, all active: every lookup gets an entry
	 * of its own host, and a host pushed out starts afresh (full
	 * buckets), never with another host's state. */
	for (unsigned i = 0; i < 4 * RATELIMIT_SOURCES; i++) {
		char host[32];
		uint8_t key[16];
		snprintf(host, sizeof(host), "10.%u.%u.%u", i >> 16,
			 (i >> 8) & 255, i & 255);
		m = addr_of(host, 69);
		s2 = ratelimit_lookup(&t, &m, 100 + i);
		net_host_key(&m, key);
		CHECK(memcmp(s2->addr, key, 16) == 0);
		(void)ratelimit_take(&s2->requests, 1, 1, 100 + i);
	}
	s = ratelimit_lookup(&t, &a, 200000);
	CHECK(ratelimit_take(&s->requests, 1, 1, 200000));
	/* A host seen all the time keeps its entry, and its state, however
	 * many others come and go. */
	ratelimit_table_init(&t, 7);
	a = addr_of("192.0.2.1", 1);
	s = ratelimit_lookup(&t, &a, 50000);
	(void)ratelimit_take(&s->requests, 1, 1, 50000);
	for (unsigned i = 0; i < 4 * RATELIMIT_SOURCES; i++) {
		char host[32];
		snprintf(host, sizeof(host), "10.0.%u.%u", (i >> 8) & 255,
			 i & 255);
		m = addr_of(host, 69);
		(void)ratelimit_lookup(&t, &m, 50001 + (int64_t)i);
		CHECK(ratelimit_lookup(&t, &a, 50001 + (int64_t)i) == s);
	}
	CHECK(s->requests.started && s->requests.last_ms == 50000);
}

/* A file of len bytes (byte i is i * 7 + 3, truncated) in dir; its fd. */
static int source_file(const char *dir, const char *name, size_t len)
{
	char path[4096];
	uint8_t *b = malloc(len ? len : 1);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	for (size_t i = 0; b && i < len; i++)
		b[i] = (uint8_t)(i * 7 + 3);
	if (fd < 0 || !b || write(fd, b, len) != (ssize_t)len) {
		perror("unit: source file");
		exit(1);
	}
	free(b);
	return fd;
}

/* A source over a new file of len bytes (source_file) in mode; its fd. */
static int source_open(struct source *s, const char *dir, const char *name,
		       size_t len, enum tftp_mode mode)
{
	struct stat st;
	int fd = source_file(dir, name, len);

	if (fstat(fd, &st) != 0) {
		perror("unit: fstat");
		exit(1);
	}
	source_init(s, fd, mode, &st);
	return fd;
}

/* payload equals bytes off.. of source_file's pattern */
static int source_bytes_ok(const uint8_t *p, size_t len, size_t off)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)((off + i) * 7 + 3))
			return 0;
	return 1;
}

/* Rewrite one byte in place and move the modification time on, as an
 * editor saving the file would. */
static void source_rewrite(int fd, off_t at)
{
	struct timespec ts[2] = {{0, UTIME_OMIT}, {0, 0}};
	struct stat st;

	if (pwrite(fd, "x", 1, at) != 1 || fstat(fd, &st) != 0) {
		perror("unit: rewrite");
		exit(1);
	}
	ts[1].tv_sec = st.st_mtim.tv_sec + 5;
	futimens(fd, ts);
}

/* The block source over a file: which files are mapped (octet, from
 * SOURCE_MAP_MIN bytes), blocks as iovecs into the mapping except the one
 * that reaches the end (copied, then the end checked), and source_pin: a
 * resend carries the bytes first sent while the file is unchanged, none
 * once it changed. */
static void test_source(void)
{
	char dir[] = "/tmp/ctftpd-unit-XXXXXX";
	static uint8_t buf[65536 + 4];
	struct source s;
	struct iovec iov[2], first;
	int niov, fd;
	ssize_t n;

	if (!mkdtemp(dir)) {
		perror("unit: mkdtemp");
		exit(1);
	}
	/* Below SOURCE_MAP_MIN, and netascii at any size: read, not mapped. */
	(void)source_open(&s, dir, "small", SOURCE_MAP_MIN - 1,
			  TFTP_MODE_OCTET);
	CHECK(source_map(&s) == 0);
	source_close(&s);
	(void)source_open(&s, dir, "text", SOURCE_MAP_MIN, TFTP_MODE_NETASCII);
	CHECK(source_map(&s) == 0);
	source_close(&s);

	/* 3 x 64 KiB + 100: three blocks in the mapping, the last copied. */
	fd = source_open(&s, dir, "big", 3 * 65536 + 100, TFTP_MODE_OCTET);
	CHECK(source_map(&s) == 1);
	for (int k = 0; k < 3; k++) {
		n = source_next(&s, buf, 65536, iov, &niov);
		CHECK(n == 65536 && niov == 1 && iov[0].iov_len == 65536);
		CHECK(source_bytes_ok(iov[0].iov_base, 65536,
				      (size_t)k * 65536));
		if (k == 0)
			first = iov[0];
	}
	n = source_next(&s, buf, 65536, iov, &niov);
	CHECK(n == 100 && niov == 0 && source_bytes_ok(buf, 100, 3 * 65536));
	CHECK(!source_changed(&s));
	/* Unchanged: a resend of block 1 is copied, with its first bytes. */
	iov[0] = first;
	niov = 1;
	memset(buf, 0, sizeof(buf));
	CHECK(source_pin(&s, iov, &niov, buf) == 0 && niov == 0);
	CHECK(source_bytes_ok(buf, 65536, 0));
	/* Rewritten after the end check: the resend is refused. */
	source_rewrite(fd, 10);
	iov[0] = first;
	niov = 1;
	CHECK(source_pin(&s, iov, &niov, buf) == -1 && source_changed(&s));
	source_close(&s);

	/* Rewritten mid-transfer: the block that reaches the end fails. */
	fd = source_open(&s, dir, "big2", 2 * 65536, TFTP_MODE_OCTET);
	CHECK(source_map(&s) == 1);
	n = source_next(&s, buf, 65536, iov, &niov);
	CHECK(n == 65536 && niov == 1);
	source_rewrite(fd, 70000);
	n = source_next(&s, buf, 65536, iov, &niov);
	CHECK(n == -1 && source_changed(&s));
	source_close(&s);

	/* Cut short mid-transfer: the copy of the last block comes short. */
	fd = source_open(&s, dir, "big3", 2 * 65536 + 10, TFTP_MODE_OCTET);
	CHECK(source_map(&s) == 1);
	n = source_next(&s, buf, 65536, iov, &niov);
	CHECK(n == 65536 && niov == 1);
	CHECK(ftruncate(fd, 65536 + 5) == 0);
	n = source_next(&s, buf, 65536, iov, &niov);
	CHECK(n == 65536 && niov == 1); /* an iovec: only the kernel reads */
	n = source_next(&s, buf, 65536, iov, &niov);
	CHECK(n == -1 && source_changed(&s));
	source_close(&s);

	/* A size that is a multiple of the block: the full block that
	 * reaches the end is copied and checked, then an empty one. */
	fd = source_open(&s, dir, "even", 2 * 65536, TFTP_MODE_OCTET);
	CHECK(source_map(&s) == 1);
	n = source_next(&s, buf, 65536, iov, &niov);
	CHECK(n == 65536 && niov == 1);
	n = source_next(&s, buf, 65536, iov, &niov);
	CHECK(n == 65536 && niov == 0 && source_bytes_ok(buf, 65536, 65536));
	n = source_next(&s, buf, 65536, iov, &niov);
	CHECK(n == 0 && niov == 0 && !source_changed(&s));
	source_close(&s);

	for (const char *const *f =
		     (const char *const[]){"small", "text", "big", "big2",
					   "big3", "even", NULL};
	     *f; f++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		unlink(path);
	}
	rmdir(dir);
}

/* In a forked child: write 42 at p[100] and exit 0, or read p[100] and exit
 * 3 if it holds 7, 4 if not.  Returns the child's wait status, or -1. */
static int in_child(int writer, unsigned char *p)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (writer) {
			p[100] = 42;
			_exit(0);
		}
		/* A fault kills the child, even with a sanitizer's
		 * handler. */
		signal(SIGSEGV, SIG_DFL);
		_exit(p[100] == 7 ? 3 : 4);
	}
	return waitpid(pid, &status, 0) == pid ? status : -1;
}

/* Shared memory reaches the children; parent-only memory does not. */
static void test_shmem(void)
{
	size_t size = 3 * 4096;
	unsigned char *shared = shmem_map(size);
	unsigned char *own = shmem_parent_only(size);
	int status, zero = 1;

	CHECK(shared != NULL);
	CHECK(own != NULL);
	if (!shared || !own)
		return;
	/* A child's write to the shared mapping is seen here. */
	status = in_child(1, shared);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(shared[100] == 42);
	for (size_t i = 0; i < size; i++)
		zero &= own[i] == 0;
	CHECK(zero);
	own[100] = 7;
	CHECK(own[100] == 7);
	status = in_child(0, own);
#if HAVE_DECL_MAP_ANONYMOUS && defined(MADV_DONTFORK)
	/* Not mapped in the child at all: its first touch faults. */
	CHECK(status != -1 && WIFSIGNALED(status) &&
	      WTERMSIG(status) == SIGSEGV);
	printf("shmem: parent-only memory is not inherited\n");
#else
	/* The fallback: an ordinary copy. */
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 3);
	printf("shmem: parent-only memory is inherited (no MADV_DONTFORK)\n");
#endif
	shmem_unmap(shared, size);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr,
			"usage: unit "
			"packet|netascii|path|options|rto|ratelimit|source|"
			"shmem\n");
		return 2;
	}
	if (strcmp(argv[1], "packet") == 0)
		test_packet();
	else if (strcmp(argv[1], "netascii") == 0)
		test_netascii();
	else if (strcmp(argv[1], "path") == 0)
		test_path();
	else if (strcmp(argv[1], "options") == 0)
		test_options();
	else if (strcmp(argv[1], "rto") == 0)
		test_rto();
	else if (strcmp(argv[1], "ratelimit") == 0)
		test_ratelimit();
	else if (strcmp(argv[1], "source") == 0)
		test_source();
	else if (strcmp(argv[1], "shmem") == 0)
		test_shmem();
	else {
		fprintf(stderr, "unit: unknown suite '%s'\n", argv[1]);
		return 2;
	}
	printf("%s: %d checks, %d failed\n", argv[1], checks, failures);
	return failures ? 1 : 0;
}
