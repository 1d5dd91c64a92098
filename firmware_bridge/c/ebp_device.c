/* Microcontroller side of the edge-vc bridge (portable C99, no allocation). */
#include "ebp_device.h"

#include <string.h>

void ebp_device_init(ebp_device_t *dev, ebp_write_fn write, ebp_frame_fn on_frame, void *ctx) {
  memset(dev, 0, sizeof(*dev));
  ebp_parser_init(&dev->parser);
  dev->write = write;
  dev->on_frame = on_frame;
  dev->ctx = ctx;
}

uint8_t ebp_device_send(ebp_device_t *dev, uint8_t type, const uint8_t *payload, size_t len) {
  uint8_t wire[EBP_MAX_WIRE];
  uint8_t seq = dev->seq++;
  if (len > EBP_MAX_PAYLOAD) len = EBP_MAX_PAYLOAD;
  size_t n = ebp_build(type, seq, payload, len, wire, sizeof(wire));
  if (n && dev->write) dev->write(dev->ctx, wire, n);
  return seq;
}

static void reply_error(ebp_device_t *dev, uint8_t code, const char *text) {
  uint8_t payload[48];
  size_t n = strlen(text);
  if (n > sizeof(payload) - 1) n = sizeof(payload) - 1;
  payload[0] = code;
  memcpy(payload + 1, text, n);
  ebp_device_send(dev, EBP_ERROR, payload, n + 1);
}

static void handle(ebp_device_t *dev, const ebp_frame_t *frame) {
  switch (frame->type) {
    case EBP_LED_STATE:
      if (frame->payload_len >= 1 && frame->payload[0] <= EBP_FAULT) {
        dev->led_state = frame->payload[0];
      } else {
        reply_error(dev, EBP_E_PAYLOAD, "bad led state");
      }
      break;
    case EBP_STATUS:
      if (frame->payload_len >= 2) {
        dev->host_state = frame->payload[0];
        dev->last_error = frame->payload[1];
      }
      break;
    case EBP_ACK:
      dev->acks++;
      if (frame->payload_len >= 2) dev->last_error = frame->payload[1];
      break;
    case EBP_ERROR:
      dev->errors++;
      if (frame->payload_len >= 1) dev->last_error = frame->payload[0];
      break;
    case EBP_HELLO:
      break;
    default:
      dev->unknown++;
      reply_error(dev, EBP_E_TYPE, "unknown type");
      break;
  }
  if (dev->on_frame) dev->on_frame(dev->ctx, frame);
}

void ebp_device_rx(ebp_device_t *dev, const uint8_t *data, size_t len) {
  ebp_frame_t frame;
  for (size_t i = 0; i < len; i++) {
    int result = ebp_parser_feed(&dev->parser, data[i], &frame);
    if (result == EBP_FRAME) {
      handle(dev, &frame);
    } else if (result == EBP_BAD_VERSION) {
      dev->dropped++;
      reply_error(dev, EBP_E_VERSION, "protocol version 1 only");
    } else if (result < 0) {
      dev->dropped++; /* corrupt frame: dropped silently, the parser has resynced */
    }
  }
}

uint8_t ebp_device_hello(ebp_device_t *dev, const char *name) {
  uint8_t payload[33];
  size_t n = strlen(name);
  if (n > 32) n = 32;
  payload[0] = EBP_VERSION;
  memcpy(payload + 1, name, n);
  return ebp_device_send(dev, EBP_HELLO, payload, n + 1);
}

uint8_t ebp_device_say(ebp_device_t *dev, const char *text) {
  return ebp_device_send(dev, EBP_SAY_TEXT, (const uint8_t *)text, strlen(text));
}

uint8_t ebp_device_say_profile(ebp_device_t *dev, const char *profile, const char *text) {
  uint8_t payload[EBP_MAX_PAYLOAD];
  size_t name_len = strlen(profile), text_len = strlen(text);
  if (name_len > 32) name_len = 32;
  if (text_len > EBP_MAX_PAYLOAD - 1 - name_len) text_len = EBP_MAX_PAYLOAD - 1 - name_len;
  payload[0] = (uint8_t)name_len;
  memcpy(payload + 1, profile, name_len);
  memcpy(payload + 1 + name_len, text, text_len);
  return ebp_device_send(dev, EBP_SAY_PROFILE, payload, 1 + name_len + text_len);
}

uint8_t ebp_device_ptt(ebp_device_t *dev, int down, uint8_t mode) {
  return down ? ebp_device_send(dev, EBP_PTT_DOWN, &mode, 1) : ebp_device_send(dev, EBP_PTT_UP, NULL, 0);
}

uint8_t ebp_device_stop(ebp_device_t *dev) { return ebp_device_send(dev, EBP_STOP, NULL, 0); }

uint8_t ebp_device_status_request(ebp_device_t *dev) { return ebp_device_send(dev, EBP_STATUS_REQ, NULL, 0); }
