/* Host unit tests of the bridge protocol C code: CRC, COBS, frames, parser resync, device logic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ebp.h"
#include "ebp_device.h"

static int failures = 0, checks = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    checks++;                                                         \
    if (!(cond)) {                                                    \
      failures++;                                                     \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                 \
  } while (0)

static uint32_t rng = 12345;
static uint32_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static void test_crc(void) {
  CHECK(ebp_crc16((const uint8_t *)"123456789", 9) == 0x29B1);
  CHECK(ebp_crc16(NULL, 0) == 0xFFFF);
}

static void cobs_vector(const uint8_t *in, size_t n, const uint8_t *expected, size_t m) {
  uint8_t out[600], back[600];
  size_t len = ebp_cobs_encode(in, n, out);
  CHECK(len == m && memcmp(out, expected, m) == 0);
  long dec = ebp_cobs_decode(out, len, back, sizeof(back));
  CHECK(dec == (long)n && memcmp(back, in, n) == 0);
}

static void test_cobs(void) {
  const uint8_t a[] = {0x00}, ae[] = {0x01, 0x01};
  const uint8_t b[] = {0x00, 0x00}, be[] = {0x01, 0x01, 0x01};
  const uint8_t c[] = {0x11, 0x22, 0x00, 0x33}, ce[] = {0x03, 0x11, 0x22, 0x02, 0x33};
  const uint8_t d[] = {0x11, 0x22, 0x33, 0x44}, de[] = {0x05, 0x11, 0x22, 0x33, 0x44};
  const uint8_t e[] = {0x11, 0x00, 0x00, 0x00}, ee[] = {0x02, 0x11, 0x01, 0x01, 0x01};
  cobs_vector(a, 1, ae, 2);
  cobs_vector(b, 2, be, 3);
  cobs_vector(c, 4, ce, 5);
  cobs_vector(d, 4, de, 5);
  cobs_vector(e, 4, ee, 5);
  uint8_t run[254], enc[300], dec[300];
  for (int i = 0; i < 254; i++) run[i] = (uint8_t)(i + 1);
  size_t n = ebp_cobs_encode(run, 254, enc);
  CHECK(enc[0] == 0xFF && n == 256);
  CHECK(ebp_cobs_decode(enc, n, dec, sizeof(dec)) == 254 && memcmp(dec, run, 254) == 0);
  CHECK(ebp_cobs_decode(enc, 255, dec, sizeof(dec)) == 254); /* the minimal form decodes too */
  const uint8_t bad[] = {0x05, 0x11, 0x22};
  CHECK(ebp_cobs_decode(bad, 3, dec, sizeof(dec)) == -1);
  CHECK(ebp_cobs_decode(enc, n, dec, 10) == -1); /* too little room */
  for (int round = 0; round < 2000; round++) {
    size_t len = next_random() % 300;
    uint8_t in[300];
    for (size_t i = 0; i < len; i++) in[i] = (next_random() % 4 == 0) ? 0 : (uint8_t)next_random();
    size_t m = ebp_cobs_encode(in, len, enc);
    int zero = 0;
    for (size_t i = 0; i < m; i++) zero |= enc[i] == 0;
    CHECK(!zero);
    CHECK(ebp_cobs_decode(enc, m, dec, sizeof(dec)) == (long)len && memcmp(dec, in, len) == 0);
  }
}

static int feed_all(ebp_parser_t *p, const uint8_t *data, size_t n, ebp_frame_t *out, int *bad) {
  int frames = 0;
  for (size_t i = 0; i < n; i++) {
    int r = ebp_parser_feed(p, data[i], out);
    if (r == EBP_FRAME) frames++;
    if (r < 0 && bad) (*bad)++;
  }
  return frames;
}

static void test_frames_and_resync(void) {
  uint8_t wire[EBP_MAX_WIRE], big[EBP_MAX_PAYLOAD + 10];
  ebp_parser_t p;
  ebp_frame_t f;
  ebp_parser_init(&p);
  size_t n = ebp_build(EBP_SAY_TEXT, 7, (const uint8_t *)"hello", 5, wire, sizeof(wire));
  CHECK(n > 8 && wire[0] == 0 && wire[n - 1] == 0);
  CHECK(feed_all(&p, wire, n, &f, NULL) == 1);
  CHECK(f.type == EBP_SAY_TEXT && f.seq == 7 && f.payload_len == 5 && memcmp(f.payload, "hello", 5) == 0);
  memset(big, 'x', sizeof(big));
  CHECK(ebp_build(EBP_SAY_TEXT, 1, big, EBP_MAX_PAYLOAD + 1, wire, sizeof(wire)) == 0);
  n = ebp_build(EBP_SAY_TEXT, 1, big, EBP_MAX_PAYLOAD, wire, sizeof(wire));
  CHECK(n > 0 && n <= EBP_MAX_WIRE && feed_all(&p, wire, n, &f, NULL) == 1 && f.payload_len == EBP_MAX_PAYLOAD);

  /* Flip each byte in turn: the frame is dropped (never a wrong frame), the next one is parsed. */
  uint8_t good[EBP_MAX_WIRE];
  size_t gn = ebp_build(EBP_LED_STATE, 3, (const uint8_t *)"\x02", 1, good, sizeof(good));
  for (size_t i = 1; i + 1 < gn; i++) {
    uint8_t bad_wire[EBP_MAX_WIRE];
    memcpy(bad_wire, good, gn);
    bad_wire[i] ^= 0x5A;
    int bad = 0;
    int got = feed_all(&p, bad_wire, gn, &f, &bad);
    CHECK(got == 0 || (f.type == EBP_LED_STATE && f.payload[0] == 2)); /* a flip into 0 may split it */
    CHECK(feed_all(&p, good, gn, &f, NULL) == 1 && f.type == EBP_LED_STATE && f.payload[0] == 2);
  }
  /* Truncated frame followed by a full one: only the truncated one is lost. */
  int bad = 0;
  CHECK(feed_all(&p, good, gn / 2, &f, &bad) == 0);
  CHECK(feed_all(&p, good, gn, &f, &bad) == 1);
  /* Overflow: a long run without delimiter is discarded, then parsing resumes. */
  uint8_t junk[1000];
  memset(junk, 0x41, sizeof(junk));
  uint32_t overflows = p.overflows;
  feed_all(&p, junk, sizeof(junk), &f, NULL);
  CHECK(feed_all(&p, good, gn, &f, NULL) == 1 && p.overflows == overflows + 1);
  /* Wrong version with a good CRC is reported as such. */
  f.version = 9;
  f.type = EBP_STOP;
  f.seq = 1;
  f.payload_len = 0;
  n = ebp_encode(&f, wire, sizeof(wire));
  int result = EBP_NONE;
  for (size_t i = 0; i < n; i++) {
    int r = ebp_parser_feed(&p, wire[i], &f);
    if (r != EBP_NONE) result = r;
  }
  CHECK(result == EBP_BAD_VERSION);
}

static void test_random_fuzz(void) {
  ebp_parser_t p;
  ebp_frame_t f;
  uint8_t good[EBP_MAX_WIRE];
  size_t gn = ebp_build(EBP_STATUS, 9, (const uint8_t *)"\x01\x00", 2, good, sizeof(good));
  ebp_parser_init(&p);
  for (int i = 0; i < 300000; i++) {
    uint8_t byte = (next_random() % 50 == 0) ? 0 : (uint8_t)next_random();
    (void)ebp_parser_feed(&p, byte, &f);
  }
  CHECK(feed_all(&p, good, gn, &f, NULL) == 1 && f.type == EBP_STATUS && f.seq == 9);
}

typedef struct {
  uint8_t out[4096];
  size_t len;
} sink_t;

static void capture(void *ctx, const uint8_t *data, size_t len) {
  sink_t *s = (sink_t *)ctx;
  if (s->len + len <= sizeof(s->out)) {
    memcpy(s->out + s->len, data, len);
    s->len += len;
  }
}

static void test_device(void) {
  sink_t sink = {{0}, 0};
  ebp_device_t dev;
  ebp_device_init(&dev, capture, NULL, &sink);
  uint8_t wire[EBP_MAX_WIRE];
  size_t n = ebp_build(EBP_LED_STATE, 0, (const uint8_t *)"\x02", 1, wire, sizeof(wire));
  ebp_device_rx(&dev, wire, n);
  CHECK(dev.led_state == EBP_SPEAKING && sink.len == 0);
  n = ebp_build(0x55, 1, NULL, 0, wire, sizeof(wire));
  ebp_device_rx(&dev, wire, n);
  CHECK(dev.unknown == 1 && sink.len > 0);
  ebp_parser_t p;
  ebp_frame_t f;
  ebp_parser_init(&p);
  CHECK(feed_all(&p, sink.out, sink.len, &f, NULL) == 1 && f.type == EBP_ERROR && f.payload[0] == EBP_E_TYPE);
  sink.len = 0;
  ebp_device_say_profile(&dev, "grandma", "good night");
  CHECK(feed_all(&p, sink.out, sink.len, &f, NULL) == 1 && f.type == EBP_SAY_PROFILE && f.payload[0] == 7);
  CHECK(memcmp(f.payload + 1, "grandmagood night", 17) == 0);
  sink.len = 0;
  ebp_device_ptt(&dev, 1, 1);
  ebp_device_ptt(&dev, 0, 0);
  CHECK(feed_all(&p, sink.out, sink.len, &f, NULL) == 2 && f.type == EBP_PTT_UP);
}

int main(void) {
  test_crc();
  test_cobs();
  test_frames_and_resync();
  test_random_fuzz();
  test_device();
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}
