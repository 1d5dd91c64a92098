/* edge-vc bridge protocol v1: CRC, COBS, frame encoding and a byte-at-a-time parser. */
#include "ebp.h"

#include <string.h>

uint16_t ebp_crc16(const uint8_t *data, size_t len) {
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint16_t)data[i] << 8;
    for (int bit = 0; bit < 8; bit++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

size_t ebp_cobs_encode(const uint8_t *in, size_t len, uint8_t *out) {
  size_t write = 1, code_index = 0;
  uint8_t code = 1;
  for (size_t read = 0; read < len; read++) {
    if (in[read] == 0) {
      out[code_index] = code;
      code = 1;
      code_index = write++;
    } else {
      out[write++] = in[read];
      if (++code == 0xFF) {
        out[code_index] = code;
        code = 1;
        code_index = write++;
      }
    }
  }
  out[code_index] = code;
  return write;
}

long ebp_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap) {
  size_t read = 0, write = 0;
  while (read < len) {
    uint8_t code = in[read++];
    if (code == 0) return -1;
    for (uint8_t i = 1; i < code; i++) {
      if (read >= len || in[read] == 0 || write >= cap) return -1;
      out[write++] = in[read++];
    }
    if (code != 0xFF && read < len) {
      if (write >= cap) return -1;
      out[write++] = 0;
    }
  }
  return (long)write;
}

size_t ebp_encode(const ebp_frame_t *frame, uint8_t *out, size_t cap) {
  uint8_t raw[EBP_MAX_RAW];
  if (frame->payload_len > EBP_MAX_PAYLOAD || cap < EBP_MAX_WIRE) return 0;
  raw[0] = frame->version;
  raw[1] = frame->type;
  raw[2] = frame->seq;
  memcpy(raw + EBP_HEADER_SIZE, frame->payload, frame->payload_len);
  size_t n = EBP_HEADER_SIZE + frame->payload_len;
  uint16_t crc = ebp_crc16(raw, n);
  raw[n++] = (uint8_t)(crc >> 8);
  raw[n++] = (uint8_t)(crc & 0xFF);
  out[0] = 0;
  size_t written = 1 + ebp_cobs_encode(raw, n, out + 1);
  out[written++] = 0;
  return written;
}

size_t ebp_build(uint8_t type, uint8_t seq, const uint8_t *payload, size_t len, uint8_t *out, size_t cap) {
  ebp_frame_t frame;
  if (len > EBP_MAX_PAYLOAD) return 0;
  frame.version = EBP_VERSION;
  frame.type = type;
  frame.seq = seq;
  frame.payload_len = (uint8_t)len;
  if (len) memcpy(frame.payload, payload, len);
  return ebp_encode(&frame, out, cap);
}

void ebp_parser_init(ebp_parser_t *parser) { memset(parser, 0, sizeof(*parser)); }

int ebp_parser_feed(ebp_parser_t *parser, uint8_t byte, ebp_frame_t *out) {
  if (byte != 0) {
    if (parser->len < sizeof(parser->buf)) {
      parser->buf[parser->len++] = byte;
    } else {
      parser->overflow = 1; /* keep discarding until the next delimiter */
    }
    return EBP_NONE;
  }
  size_t len = parser->len;
  int overflow = parser->overflow;
  parser->len = 0;
  parser->overflow = 0;
  if (overflow) {
    parser->overflows++;
    return EBP_OVERFLOW;
  }
  if (len == 0) return EBP_NONE; /* empty frame: a resync delimiter */
  uint8_t raw[EBP_MAX_RAW];
  long n = ebp_cobs_decode(parser->buf, len, raw, sizeof(raw));
  if (n < EBP_HEADER_SIZE + EBP_CRC_SIZE) {
    parser->cobs_errors++;
    return EBP_BAD_COBS;
  }
  uint16_t crc = (uint16_t)((raw[n - 2] << 8) | raw[n - 1]);
  if (ebp_crc16(raw, (size_t)n - EBP_CRC_SIZE) != crc) {
    parser->crc_errors++;
    return EBP_BAD_CRC;
  }
  if (raw[0] != EBP_VERSION) {
    parser->version_errors++;
    out->version = raw[0];
    out->type = raw[1];
    out->seq = raw[2];
    out->payload_len = 0;
    return EBP_BAD_VERSION;
  }
  out->version = raw[0];
  out->type = raw[1];
  out->seq = raw[2];
  out->payload_len = (uint8_t)(n - EBP_HEADER_SIZE - EBP_CRC_SIZE);
  memcpy(out->payload, raw + EBP_HEADER_SIZE, out->payload_len);
  parser->frames++;
  return EBP_FRAME;
}
