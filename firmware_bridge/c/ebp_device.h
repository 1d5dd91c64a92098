/* The microcontroller side of the edge-vc bridge: parse host frames, keep LED/host state, send
 * button events. Board code supplies a write() callback and feeds received bytes to ebp_device_rx(). */
#ifndef EBP_DEVICE_H
#define EBP_DEVICE_H

#include "ebp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ebp_write_fn)(void *ctx, const uint8_t *data, size_t len);
typedef void (*ebp_frame_fn)(void *ctx, const ebp_frame_t *frame);

typedef struct {
  ebp_parser_t parser;
  uint8_t seq;
  uint8_t led_state;  /* last LED_STATE from the host */
  uint8_t host_state; /* last STATUS state */
  uint8_t last_error; /* last ERROR/ACK code from the host */
  uint32_t acks, errors, unknown, dropped;
  ebp_write_fn write;
  ebp_frame_fn on_frame; /* optional: called for every valid frame */
  void *ctx;
} ebp_device_t;

void ebp_device_init(ebp_device_t *dev, ebp_write_fn write, ebp_frame_fn on_frame, void *ctx);
void ebp_device_rx(ebp_device_t *dev, const uint8_t *data, size_t len);
/* Sends one frame; returns its sequence number. Payloads longer than EBP_MAX_PAYLOAD are cut. */
uint8_t ebp_device_send(ebp_device_t *dev, uint8_t type, const uint8_t *payload, size_t len);
uint8_t ebp_device_hello(ebp_device_t *dev, const char *name);
uint8_t ebp_device_say(ebp_device_t *dev, const char *text);
uint8_t ebp_device_say_profile(ebp_device_t *dev, const char *profile, const char *text);
uint8_t ebp_device_ptt(ebp_device_t *dev, int down, uint8_t mode);
uint8_t ebp_device_stop(ebp_device_t *dev);
uint8_t ebp_device_status_request(ebp_device_t *dev);

#ifdef __cplusplus
}
#endif

#endif
