"""Pure domain and use cases. Imports no platform, database, vector store or model library."""
