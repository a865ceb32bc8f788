"""Exporters (ONNX, safetensors, manifest): see the export issue."""
