"""ONNX and int8 exports, each checked against PyTorch."""
