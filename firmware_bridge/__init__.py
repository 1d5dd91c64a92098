"""Serial bridge between a microcontroller (buttons, LEDs) and the edge-vc runtime; see PROTOCOL.md."""
