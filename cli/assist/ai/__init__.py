"""The AI orchestrator (docs/models.md): model backends, the model selector, prompt templates, the context
store and the output parser. Heavy libraries (llama_cpp, chromadb, onnxruntime) load inside the code
that needs them."""
