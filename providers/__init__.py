"""LLM providers: chat models by role, served by Ollama or an embedded llama.cpp model."""
