/* edge-vc bridge protocol (EBP) v1: COBS-framed, CRC-16/CCITT-checked messages between a
 * microcontroller and the edge-vc host. Portable C99, no allocation, no vendor SDK.
 * See firmware_bridge/PROTOCOL.md. */
#ifndef EBP_H
#define EBP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EBP_VERSION 1
#define EBP_MAX_PAYLOAD 200
#define EBP_HEADER_SIZE 3 /* version, type, seq */
#define EBP_CRC_SIZE 2
#define EBP_MAX_RAW (EBP_HEADER_SIZE + EBP_MAX_PAYLOAD + EBP_CRC_SIZE)
#define EBP_MAX_ENCODED (EBP_MAX_RAW + EBP_MAX_RAW / 254 + 2)
#define EBP_MAX_WIRE (EBP_MAX_ENCODED + 2) /* plus a leading and a trailing 0x00 delimiter */

/* Message types. */
enum {
  EBP_HELLO = 0x01,       /* both: u8 protocol version, UTF-8 name */
  EBP_ACK = 0x02,         /* both: u8 acked seq, u8 code (0 = ok) */
  EBP_ERROR = 0x03,       /* both: u8 code, UTF-8 message */
  EBP_SAY_TEXT = 0x10,    /* MCU->host: UTF-8 text */
  EBP_SAY_PROFILE = 0x11, /* MCU->host: u8 n, n-byte profile name, UTF-8 text */
  EBP_STOP = 0x12,        /* MCU->host: stop speaking / recording */
  EBP_STATUS_REQ = 0x13,  /* MCU->host: ask for STATUS */
  EBP_STATUS = 0x14,      /* host->MCU: u8 state, u8 last error code */
  EBP_PTT_DOWN = 0x20,    /* MCU->host: u8 mode (0 = reply, 1 = enroll) */
  EBP_PTT_UP = 0x21,      /* MCU->host: empty */
  EBP_LED_STATE = 0x30    /* host->MCU: u8 state */
};

/* States (STATUS and LED_STATE). */
enum { EBP_IDLE = 0, EBP_LISTENING = 1, EBP_SPEAKING = 2, EBP_BUSY = 3, EBP_FAULT = 4 };

/* Error codes (ERROR and ACK). */
enum {
  EBP_OK = 0,
  EBP_E_FRAME = 1,
  EBP_E_VERSION = 2,
  EBP_E_TYPE = 3,
  EBP_E_PAYLOAD = 4,
  EBP_E_BUSY = 5,
  EBP_E_FAILED = 6,
  EBP_E_NOT_FOUND = 7
};

typedef struct {
  uint8_t version;
  uint8_t type;
  uint8_t seq;
  uint8_t payload_len;
  uint8_t payload[EBP_MAX_PAYLOAD];
} ebp_frame_t;

/* Parser outcomes from ebp_parser_feed. */
enum { EBP_NONE = 0, EBP_FRAME = 1, EBP_BAD_CRC = -1, EBP_BAD_COBS = -2, EBP_OVERFLOW = -3, EBP_BAD_VERSION = -4 };

typedef struct {
  uint8_t buf[EBP_MAX_ENCODED];
  size_t len;
  int overflow;
  uint32_t frames, crc_errors, cobs_errors, overflows, version_errors;
} ebp_parser_t;

uint16_t ebp_crc16(const uint8_t *data, size_t len); /* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF */
size_t ebp_cobs_encode(const uint8_t *in, size_t len, uint8_t *out);
/* Returns the decoded length, or -1 for malformed input or too little room. */
long ebp_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* Encodes a frame as 0x00, COBS bytes, 0x00 into out (EBP_MAX_WIRE bytes); returns bytes or 0.
 * The leading delimiter ends any partial frame the receiver holds, so one lost byte costs one frame. */
size_t ebp_encode(const ebp_frame_t *frame, uint8_t *out, size_t cap);
/* Builds and encodes a frame in one call. */
size_t ebp_build(uint8_t type, uint8_t seq, const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

void ebp_parser_init(ebp_parser_t *parser);
/* Feed one received byte. Returns EBP_FRAME when *out holds a valid frame, EBP_NONE while a frame
 * is incomplete, or a negative EBP_BAD_* when a frame was dropped (the parser has already resynced). */
int ebp_parser_feed(ebp_parser_t *parser, uint8_t byte, ebp_frame_t *out);

#ifdef __cplusplus
}
#endif

#endif
