/* Fuzz target: netascii (RFC 1350 section 5 via RFC 764: a file's LF goes
 * out as CR LF, a bare CR as CR NUL), both ways, fed in pieces cut at
 * input-chosen points as the transfer loops feed it blocks.  Input layout:
 *   byte 0        k, the number of cuts (0..31)
 *   bytes 1..2k   k pairs (output room 0..255 bytes, input slice 0..255)
 *   the rest      the bytes to convert
 * The cuts are used in turn, round and round.  Checked:
 *  - encoding (RRQ): the pieces put together equal the one-shot conversion
 *    of tests/reference.h; the size netascii_encoded_size gives (the tsize
 *    of a netascii RRQ) is the size produced; every call stays in its
 *    buffers and moves on when it can;
 *  - decoding (WRQ): what the encoder made decodes back to the original,
 *    whatever the cuts; the bytes as a hostile upload decode as the
 *    one-shot reference does; no call writes more than its slice plus the
 *    one CR it may hold (the room src/sink.c gives it). */
#include "autoconfig.h"

#include <string.h>

#include "fuzz.h"
#include "netascii.h"
#include "../reference.h"

/* One encoder call with exactly room bytes of heap for its output (an
 * overrun is an ASan report) and a slice of in; appends what it wrote to
 * got.  Returns the input bytes consumed. */
static size_t encode_piece(struct netascii_encoder *enc, const uint8_t *in,
			   size_t slice, size_t room, uint8_t *got,
			   size_t *glen)
{
	uint8_t *out = malloc(room ? room : 1);
	int had_pending = netascii_encoder_pending(enc);
	size_t used = (size_t)-1, n;
	uint64_t grown;

	FUZZ_CHECK(out != NULL);
	n = netascii_encode(enc, in, slice, &used, out, room);
	FUZZ_CHECK(n <= room && used <= slice);
	/* Progress whenever there is room and something to say: the RRQ
	 * loop would spin otherwise. */
	if (room > 0 && (had_pending || slice > 0))
		FUZZ_CHECK(n > 0);
	if (room == 0) {
		FUZZ_CHECK(n == 0 && used == 0 &&
			   netascii_encoder_pending(enc) == had_pending);
		free(out);
		return 0;
	}
	/* A byte is held back only when the output filled up on the first
	 * half of a pair. */
	if (netascii_encoder_pending(enc))
		FUZZ_CHECK(n == room && n > 0 && out[n - 1] == '\r');
	/* Enough room for the worst case: everything goes out. */
	if (room >= 2 * slice + (size_t)had_pending)
		FUZZ_CHECK(used == slice && !netascii_encoder_pending(enc));
	/* The size arithmetic agrees with what came out of this call. */
	grown = netascii_encoded_size(in, used);
	FUZZ_CHECK(grown + (uint64_t)had_pending ==
		   n + (uint64_t)netascii_encoder_pending(enc));
	memcpy(got + *glen, out, n);
	*glen += n;
	free(out);
	return used;
}

/* Decode len bytes at in, sliced by the cuts (the slice of each pair; after
 * 2k + len calls the rest in one), each call into exactly the room the
 * decoder's contract asks for (an overrun is an ASan report), appending to
 * got.  Returns the bytes produced, the end of the stream included. */
static size_t decode_sliced(const uint8_t *in, size_t len, const uint8_t *cuts,
			    size_t k, uint8_t *got)
{
	struct netascii_decoder dec;
	size_t pos = 0, glen = 0, n;
	uint8_t *out;

	netascii_decoder_init(&dec);
	for (size_t step = 0; pos < len; step++) {
		size_t slice = len - pos;

		if (k > 0 && step < 2 * k + len &&
		    cuts[2 * (step % k) + 1] < slice)
			slice = cuts[2 * (step % k) + 1];
		out = malloc(slice + 1);
		FUZZ_CHECK(out != NULL);
		n = netascii_decode(&dec, in + pos, slice, out);
		FUZZ_CHECK(n <= slice + 1);
		memcpy(got + glen, out, n);
		glen += n;
		pos += slice;
		free(out);
	}
	out = malloc(1);
	FUZZ_CHECK(out != NULL);
	n = netascii_decode_finish(&dec, out);
	FUZZ_CHECK(n <= 1);
	memcpy(got + glen, out, n);
	glen += n;
	/* Finished means finished. */
	FUZZ_CHECK(netascii_decode_finish(&dec, out) == 0);
	free(out);
	return glen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netascii_encoder enc;
	const uint8_t *cuts, *in;
	uint8_t *want, *got;
	size_t k, len, wlen, glen = 0, pos = 0, step;

	if (size < 1)
		return 0;
	k = data[0] & 31u;
	if (size < 1 + 2 * k)
		return 0;
	cuts = data + 1;
	in = data + 1 + 2 * k;
	len = size - 1 - 2 * k;

	want = malloc(2 * len + 1);
	/* Room for one wrong byte too many per call, so a runaway encoder
	 * shows as a mismatch rather than an overrun of got itself. */
	got = malloc(2 * len + 2 + 256);
	FUZZ_CHECK(want != NULL && got != NULL);
	wlen = reference_netascii(in, len, want);
	FUZZ_CHECK(netascii_encoded_size(in, len) == wlen);

	netascii_encoder_init(&enc);
	FUZZ_CHECK(!netascii_encoder_pending(&enc));
	/* Past 2 * len + 2k calls a cut pattern that stalls (no room, or
	 * empty slices) ends with one call that takes the rest. */
	for (step = 0; pos < len || netascii_encoder_pending(&enc); step++) {
		size_t room, slice;

		if (k > 0 && step < 2 * len + 2 * k) {
			room = cuts[2 * (step % k)];
			slice = cuts[2 * (step % k) + 1];
			if (slice > len - pos)
				slice = len - pos;
		} else {
			slice = len - pos;
			room = 2 * slice + 1;
		}
		if (glen + room > wlen + 256)
			room = glen < wlen + 256 ? wlen + 256 - glen : 0;
		pos += encode_piece(&enc, in + pos, slice, room, got, &glen);
		FUZZ_CHECK(glen <= wlen);
		FUZZ_CHECK(step <= 4 * len + 2 * k + 2);
	}
	FUZZ_CHECK(glen == wlen && memcmp(got, want, wlen) == 0);
	/* A finished encoder produces nothing more. */
	{
		size_t used = 1;
		uint8_t spare[4];
		FUZZ_CHECK(netascii_encode(&enc, in, 0, &used, spare,
					   sizeof(spare)) == 0 &&
			   used == 0);
	}

	/* Back again: the encoder's output decodes to the file. */
	FUZZ_CHECK(decode_sliced(want, wlen, cuts, k, got) == len &&
		   memcmp(got, in, len) == 0);
	/* The input as an upload from a hostile client. */
	glen = decode_sliced(in, len, cuts, k, got);
	FUZZ_CHECK(glen == reference_netascii_decode(in, len, want) &&
		   memcmp(got, want, glen) == 0);
	free(want);
	free(got);
	return 0;
}
