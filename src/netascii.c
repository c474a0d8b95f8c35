/* Streaming LF -> CR LF and CR -> CR NUL conversion for netascii reads, and
 * back for netascii uploads. */
#include "autoconfig.h"

#include "netascii.h"

void netascii_encoder_init(struct netascii_encoder *enc)
{
	enc->pending = -1;
}

int netascii_encoder_pending(const struct netascii_encoder *enc)
{
	return enc->pending >= 0;
}

size_t netascii_encode(struct netascii_encoder *enc, const uint8_t *in,
		       size_t inlen, size_t *consumed, uint8_t *out,
		       size_t outcap)
{
	size_t i = 0, o = 0;

	if (enc->pending >= 0 && o < outcap) {
		out[o++] = (uint8_t)enc->pending;
		enc->pending = -1;
	}
	while (i < inlen && o < outcap) {
		uint8_t c = in[i++];

		if (c == '\n' || c == '\r') {
			out[o++] = '\r';
			/* The second byte of the pair waits for the next block
			 * when this one is full. */
			uint8_t second = c == '\n' ? '\n' : '\0';
			if (o < outcap)
				out[o++] = second;
			else
				enc->pending = second;
		} else {
			out[o++] = c;
		}
	}
	*consumed = i;
	return o;
}

uint64_t netascii_encoded_size(const uint8_t *in, size_t inlen)
{
	uint64_t n = inlen;

	for (size_t i = 0; i < inlen; i++)
		n += in[i] == '\n' || in[i] == '\r';
	return n;
}

void netascii_decoder_init(struct netascii_decoder *dec)
{
	dec->cr = 0;
}

size_t netascii_decode(struct netascii_decoder *dec, const uint8_t *in,
		       size_t inlen, uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; i < inlen; i++) {
		uint8_t c = in[i];

		if (dec->cr) {
			dec->cr = 0;
			if (c == '\n') {
				out[o++] = '\n';
				continue;
			}
			out[o++] = '\r';
			if (c == '\0')
				continue;
		}
		if (c == '\r')
			dec->cr = 1;
		else
			out[o++] = c;
	}
	return o;
}

size_t netascii_decode_finish(struct netascii_decoder *dec, uint8_t *out)
{
	if (!dec->cr)
		return 0;
	dec->cr = 0;
	out[0] = '\r';
	return 1;
}
