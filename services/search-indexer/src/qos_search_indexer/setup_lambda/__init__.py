"""The stack's setup function: applies the index design and access rules to the OpenSearch domain.

`domain_setup` holds the requests (plain Python over an HTTP callable, so tests swap in a fake),
`signed_http` signs them with SigV4 for OpenSearch Service, `handler` is the CloudFormation
custom resource's Lambda entrypoint (behind the CDK `Provider` framework).
"""
