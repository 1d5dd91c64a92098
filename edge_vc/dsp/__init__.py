"""DSP building blocks shared by voice stages and features: frames, YIN pitch, FIR, PSOLA."""
