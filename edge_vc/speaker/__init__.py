"""Speaker identity: the product's speaker encoder, audio preprocessing, VAD and base-voice choice."""
