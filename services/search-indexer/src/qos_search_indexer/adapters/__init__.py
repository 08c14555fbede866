"""The search indexer's adapters: OpenSearch (opensearch-py), SigV4-signed HTTP, SQLite."""
