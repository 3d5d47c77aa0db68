"""KServe V2 model server for the local target: one ONNX model from S3, served by MLServer + onnxruntime."""
