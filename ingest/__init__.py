"""Ingestion: load documents, chunk them by heading, embed and index them atomically."""
