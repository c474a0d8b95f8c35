/* Netascii (RFC 1350 section 5, via RFC 764): a file's LF goes out as CR LF
 * and a bare CR as CR NUL; an upload comes back the other way.  Streaming,
 * so a pair split across two DATA blocks comes out right.  Pure: no I/O, no
 * globals. */
#ifndef CTFTPD_NETASCII_H
#define CTFTPD_NETASCII_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* State carried from one call to the next: the second byte of a CR LF or
 * CR NUL pair that did not fit in the previous output buffer. */
struct netascii_encoder {
	int pending; /* a byte still to emit, or -1 */
};

void netascii_encoder_init(struct netascii_encoder *enc);

/* Convert in (inlen bytes of the local file) into netascii in out (outcap
 * bytes).  Emits a pending byte first.  Stops when out is full or in is used
 * up.  Sets *consumed to the input bytes used; returns the bytes written. */
size_t netascii_encode(struct netascii_encoder *enc, const uint8_t *in,
		       size_t inlen, size_t *consumed, uint8_t *out,
		       size_t outcap);

/* Nonzero when the encoder holds a byte that has not been emitted yet. */
int netascii_encoder_pending(const struct netascii_encoder *enc);

/* Bytes that inlen bytes of in grow to in netascii: inlen plus one for each
 * LF and each CR.  Sum it over a file for an RFC 2349 tsize. */
uint64_t netascii_encoded_size(const uint8_t *in, size_t inlen);

/* The receiving side: CR LF becomes LF and CR NUL becomes CR.  A CR
 * followed by anything else is kept with what follows; a CR at the very end
 * of the stream is kept (netascii_decode_finish). */
struct netascii_decoder {
	int cr; /* the last byte seen was a CR not yet written */
};

void netascii_decoder_init(struct netascii_decoder *dec);

/* Convert inlen bytes of netascii from in into out, which must have room
 * for inlen + 1 bytes (a CR held from the previous call may come out
 * first).  Returns the bytes written. */
size_t netascii_decode(struct netascii_decoder *dec, const uint8_t *in,
		       size_t inlen, uint8_t *out);

/* End of the stream: writes a held CR into out (room for 1 byte).  Returns
 * the bytes written, 0 or 1. */
size_t netascii_decode_finish(struct netascii_decoder *dec, uint8_t *out);

#endif
