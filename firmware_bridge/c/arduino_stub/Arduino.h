/* Just enough of the Arduino API to compile-check the sketch on the host (make sketch-check). */
#ifndef ARDUINO_STUB_H
#define ARDUINO_STUB_H
#include <stddef.h>
#include <stdint.h>

#define HIGH 1
#define LOW 0
#define INPUT_PULLUP 2
#define OUTPUT 1
#define LED_BUILTIN 13

static inline int digitalRead(uint8_t pin) { return pin ? HIGH : LOW; }
static inline void digitalWrite(uint8_t, uint8_t) {}
static inline void pinMode(uint8_t, uint8_t) {}
static inline unsigned long millis(void) { return 0; }

struct StubSerial {
  void begin(unsigned long) {}
  int available() { return 0; }
  size_t readBytes(uint8_t *, size_t) { return 0; }
  size_t write(const uint8_t *, size_t n) { return n; }
};
static StubSerial Serial;
#endif
