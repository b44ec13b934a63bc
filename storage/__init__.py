"""Sena's own SQLite tables (conversation log, threads), beside LangGraph's checkpoints."""
