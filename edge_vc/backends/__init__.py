"""Model backends: one small interface over onnxruntime and TFLite."""
