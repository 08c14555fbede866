"""The search indexer's domain, pure: index names and design, documents, dead letters, setup."""
