"""CLIP on onnxruntime: tokenizer, image preprocessing and the two model towers."""
