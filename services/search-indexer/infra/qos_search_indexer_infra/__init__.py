"""CDK code of the search service: the stack, its CDK app, and the setup function's packaging.

The setup function itself (what it sends to the domain) is runtime code, in
`qos_search_indexer.setup_lambda`; this package only builds and deploys it.
"""
