"""Embedding model, Chroma client and the hybrid retriever; shared by ingest and the bot."""
