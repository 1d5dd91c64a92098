// edge-vc bridge reference firmware for Arduino-compatible boards (Uno, Nano, ESP32, Raspberry Pi Pico
// with the arduino-pico core). Push-to-talk button, an "enroll" button, a "say" button, and a status LED.
// Protocol code is the portable C in firmware_bridge/c (linked here under src/). See PROTOCOL.md.
//
// Wiring (change below): buttons between the pin and GND (internal pull-ups), LED with resistor to GND.

#include "src/ebp_device.h"

static const uint8_t PIN_PTT = 2;     // hold to talk; release to get a spoken reply
static const uint8_t PIN_ENROLL = 3;  // hold to record an enrollment take
static const uint8_t PIN_SAY = 4;     // press to say a fixed phrase
static const uint8_t PIN_LED = LED_BUILTIN;
static const unsigned long DEBOUNCE_MS = 30;

static ebp_device_t dev;

static void serial_write(void *ctx, const uint8_t *data, size_t len) {
  (void)ctx;
  Serial.write(data, len);
}

struct Button {
  uint8_t pin;
  bool pressed;
  unsigned long changed;
};

static Button ptt = {PIN_PTT, false, 0}, enroll = {PIN_ENROLL, false, 0}, say = {PIN_SAY, false, 0};

// Returns +1 on press, -1 on release, 0 otherwise (debounced).
static int poll_button(Button &b) {
  bool now = digitalRead(b.pin) == LOW;
  unsigned long t = millis();
  if (now != b.pressed && t - b.changed > DEBOUNCE_MS) {
    b.pressed = now;
    b.changed = t;
    return now ? 1 : -1;
  }
  return 0;
}

// LED patterns: idle off, listening on, speaking fast blink, busy slow blink, fault double blink.
static void update_led() {
  unsigned long t = millis();
  bool on = false;
  switch (dev.led_state) {
    case EBP_LISTENING: on = true; break;
    case EBP_SPEAKING: on = (t / 100) % 2; break;
    case EBP_BUSY: on = (t / 400) % 2; break;
    case EBP_FAULT: on = (t % 1000) < 100 || ((t % 1000) > 200 && (t % 1000) < 300); break;
    default: on = false; break;
  }
  digitalWrite(PIN_LED, on ? HIGH : LOW);
}

void setup() {
  pinMode(PIN_PTT, INPUT_PULLUP);
  pinMode(PIN_ENROLL, INPUT_PULLUP);
  pinMode(PIN_SAY, INPUT_PULLUP);
  pinMode(PIN_LED, OUTPUT);
  Serial.begin(115200);
  ebp_device_init(&dev, serial_write, NULL, NULL);
  ebp_device_hello(&dev, "arduino-bridge");
}

void loop() {
  uint8_t buf[64];
  int n = Serial.available();
  if (n > 0) {
    if (n > (int)sizeof(buf)) n = sizeof(buf);
    n = Serial.readBytes(buf, n);
    ebp_device_rx(&dev, buf, (size_t)n);
  }
  int e = poll_button(ptt);
  if (e) ebp_device_ptt(&dev, e > 0, 0);
  e = poll_button(enroll);
  if (e) ebp_device_ptt(&dev, e > 0, 1);
  if (poll_button(say) > 0) {
    if (dev.led_state == EBP_SPEAKING) {
      ebp_device_stop(&dev);
    } else {
      ebp_device_say(&dev, "Hello! I am running offline on this device.");
    }
  }
  update_led();
}
