"""Long-term memory: a torch-free embedder, a Qdrant vector store, and mem0 on top."""
