"""Model clients: OpenAI-compatible, Ollama, and the embedded llama.cpp server."""
