"""The search indexer's entrypoints: the local process (`local_indexer`), the setup Lambda."""
