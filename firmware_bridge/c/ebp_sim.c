/* A host-built stand-in for the microcontroller: the same ebp/ebp_device code as the sketch, talking
 * over a serial file descriptor (a pseudo-terminal in tests). Button presses come as text commands on
 * stdin; every frame from the host and every LED change is printed on stdout, one line each.
 *
 *   usage: ebp_sim FD        stdin: hello NAME | say TEXT | profile NAME TEXT | ptt_down MODE | ptt_up
 *                                   | stop | status | raw HEX | stats | quit */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ebp.h"
#include "ebp_device.h"

static int link_fd = -1;

static void link_write(void *ctx, const uint8_t *data, size_t len) {
  (void)ctx;
  while (len > 0) {
    ssize_t n = write(link_fd, data, len);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return;
    }
    data += n;
    len -= (size_t)n;
  }
}

static void on_frame(void *ctx, const ebp_frame_t *frame) {
  (void)ctx;
  printf("rx %u %u ", frame->type, frame->seq);
  for (int i = 0; i < frame->payload_len; i++) printf("%02x", frame->payload[i]);
  printf("\n");
  if (frame->type == EBP_LED_STATE && frame->payload_len >= 1) printf("led %u\n", frame->payload[0]);
  fflush(stdout);
}

static size_t parse_hex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  while (hex[0] && hex[1] && n < cap) {
    unsigned value;
    if (sscanf(hex, "%2x", &value) != 1) break;
    out[n++] = (uint8_t)value;
    hex += 2;
  }
  return n;
}

static int command(ebp_device_t *dev, char *line) {
  line[strcspn(line, "\r\n")] = 0;
  char *arg = strchr(line, ' ');
  if (arg) *arg++ = 0;
  else arg = line + strlen(line);
  int seq = -1;
  if (!strcmp(line, "hello")) seq = ebp_device_hello(dev, arg);
  else if (!strcmp(line, "say")) seq = ebp_device_say(dev, arg);
  else if (!strcmp(line, "profile")) {
    char *text = strchr(arg, ' ');
    if (text) *text++ = 0;
    seq = ebp_device_say_profile(dev, arg, text ? text : "");
  } else if (!strcmp(line, "ptt_down")) seq = ebp_device_ptt(dev, 1, (uint8_t)atoi(arg));
  else if (!strcmp(line, "ptt_up")) seq = ebp_device_ptt(dev, 0, 0);
  else if (!strcmp(line, "stop")) seq = ebp_device_stop(dev);
  else if (!strcmp(line, "status")) seq = ebp_device_status_request(dev);
  else if (!strcmp(line, "raw")) {
    static uint8_t bytes[4096];
    size_t n = parse_hex(arg, bytes, sizeof(bytes));
    link_write(NULL, bytes, n);
    printf("sent raw %zu\n", n);
  } else if (!strcmp(line, "stats")) {
    const ebp_parser_t *p = &dev->parser;
    printf("stats frames=%u crc=%u cobs=%u overflow=%u version=%u dropped=%u unknown=%u led=%u\n",
           (unsigned)p->frames, (unsigned)p->crc_errors, (unsigned)p->cobs_errors, (unsigned)p->overflows,
           (unsigned)p->version_errors, (unsigned)dev->dropped, (unsigned)dev->unknown, dev->led_state);
  } else if (!strcmp(line, "quit")) {
    return 0;
  } else {
    printf("unknown command %s\n", line);
  }
  if (seq >= 0) printf("sent %d\n", seq);
  fflush(stdout);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: ebp_sim FD\n");
    return 2;
  }
  link_fd = atoi(argv[1]);
  ebp_device_t dev;
  ebp_device_init(&dev, link_write, on_frame, NULL);
  char line[8192];
  size_t line_len = 0;
  for (;;) {
    struct pollfd fds[2] = {{link_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    if (poll(fds, 2, 1000) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents & POLLIN) {
      uint8_t buf[512];
      ssize_t n = read(link_fd, buf, sizeof(buf));
      if (n > 0) ebp_device_rx(&dev, buf, (size_t)n);
    }
    if (fds[0].revents & (POLLHUP | POLLERR) && !(fds[0].revents & POLLIN)) usleep(10000);
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      char c;
      ssize_t n = read(STDIN_FILENO, &c, 1);
      if (n <= 0) return 0; /* the test closed stdin */
      if (c == '\n' || line_len == sizeof(line) - 1) {
        line[line_len] = 0;
        line_len = 0;
        if (!command(&dev, line)) return 0;
      } else {
        line[line_len++] = c;
      }
    }
  }
}
