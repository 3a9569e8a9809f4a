"""Endpoints that offer a running jar: OpenAI- and Ollama-compatible HTTP."""
