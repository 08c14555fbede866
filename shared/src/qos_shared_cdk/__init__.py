"""The deploy kit: what every service's CDK code shares (ADR 0010).

- `ssm`: the SSM parameter names stacks write and read (`/qos/<env>/<service>/<resource>`),
  each defined once, and the stack names;
- `context`: reading CDK context (`qos:env`, `qos:<service>:<key>`) and the CLI's environment;
- `packaging`: the one Lambda bundle builder (wheels for the Lambda platform, no Docker);
- `blocks`: the small constructs the stacks repeat (roles, log groups, buckets, SSM publishing)
  and `ServiceStack`, the base of every service stack;
- `app`: the standalone app's run, with its preflight of the SSM parameters a stack reads;
- `testing`: the infra-test conftest and the template assertions the stack tests share.

Kept free of imports: `ssm` and `packaging` are plain Python, so `python -m <svc>_infra.packaging`
and anything that only needs a parameter name don't pay for jsii.
"""
