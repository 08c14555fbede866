"""Who reaches the domain and from where: Cognito sign-in for Dashboards, and the VPC option.

**Sign-in** (`DashboardsSignIn`): a Cognito user pool (no self sign-up; an administrator invites
people, by e-mail), its hosted UI domain, an `admins` group, and an identity pool whose
authenticated role every signed-in user gets: the setup maps that role to the read-only security
role `qos_dashboards_reader`. Members of the admin group get the group's role instead (the
identity pool picks the `cognito:preferred_role` of the ID token) and the setup maps it to
`qos_dashboards_admin`. OpenSearch Service creates the user pool's app client itself when it
turns Cognito on, so the identity pool's rule that honours the group's role, which names that
client, is set after the domain exists (`map_group_roles`: two SDK calls as custom resources).

**Network** (`DomainNetwork`): when asked, the domain goes into a VPC (an existing one's
subnets, or a new VPC of isolated subnets with an S3 gateway endpoint), behind a security group
that admits HTTPS only from the setup function's group and the indexer function's group; both
functions run in the VPC's subnets. The indexer also writes dead letters to S3: an existing
VPC's subnets must reach S3 (a gateway endpoint or a NAT).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import custom_resources as cr
from constructs import Construct

from qos_shared_cdk.blocks import check

ADMIN_GROUP = "admins"
# The managed policy that lets OpenSearch Service configure Cognito for the domain.
COGNITO_ACCESS_POLICY = "AmazonOpenSearchServiceCognitoAccess"
HTTPS = 443
# What a Lambda function needs to attach to a VPC's subnets (AWSLambdaVPCAccessExecutionRole's
# actions, without its log permissions: the functions' own groups are granted already).
VPC_ACCESS_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


class DashboardsSignIn(Construct):
    """The user pool, identity pool and roles of Cognito sign-in to OpenSearch Dashboards."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_prefix: str,
        admin_email: str | None,
        describe: str,
    ) -> None:
        super().__init__(scope, construct_id)
        check(
            admin_email is None or ("@" in admin_email and " " not in admin_email),
            f"admin e-mail {admin_email!r} is not an e-mail address",
        )
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(7),
            ),
            user_invitation=cognito.UserInvitationConfig(
                email_subject=f"Your {describe} sign-in",
                email_body=(
                    f"You can now sign in to {describe}. User name: {{username}}; temporary "
                    "password: {####} (you choose your own at the first sign-in)."
                ),
            ),
        )
        # The hosted UI Dashboards redirects to (OpenSearch requires the pool to have one).
        self.hosted_ui = self.user_pool.add_domain(
            "HostedUi",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix),
        )
        self.identity_pool = cognito.CfnIdentityPool(
            self, "IdentityPool", allow_unauthenticated_identities=False
        )
        self.reader_role = self._signed_in_role("ReaderRole", f"{describe}: read-only users")
        self.admin_role = self._signed_in_role("AdminRole", f"{describe}: the admin group")
        self.admin_group = cognito.CfnUserPoolGroup(
            self,
            "AdminGroup",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=ADMIN_GROUP,
            description="Dashboards admins: edit the shared dashboards",
            role_arn=self.admin_role.role_arn,
            precedence=0,
        )
        self.roles = cognito.CfnIdentityPoolRoleAttachment(
            self,
            "IdentityPoolRoles",
            identity_pool_id=self.identity_pool.ref,
            roles={"authenticated": self.reader_role.role_arn},
        )
        # The role OpenSearch Service uses to set Cognito up for the domain.
        self.service_role = iam.Role(
            self,
            "OpenSearchCognitoRole",
            assumed_by=iam.ServicePrincipal("opensearchservice.amazonaws.com"),
            description=f"{describe}: OpenSearch Service configures Cognito sign-in",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(COGNITO_ACCESS_POLICY)
            ],
        )
        self.admin_user: cognito.CfnUserPoolUser | None = None
        if admin_email:
            self.admin_user = cognito.CfnUserPoolUser(
                self,
                "AdminUser",
                user_pool_id=self.user_pool.user_pool_id,
                username=admin_email,
                desired_delivery_mediums=["EMAIL"],
                user_attributes=[
                    cognito.CfnUserPoolUser.AttributeTypeProperty(name="email", value=admin_email),
                    cognito.CfnUserPoolUser.AttributeTypeProperty(
                        name="email_verified", value="true"
                    ),
                ],
            )
            membership = cognito.CfnUserPoolUserToGroupAttachment(
                self,
                "AdminUserInAdminGroup",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=ADMIN_GROUP,
                username=admin_email,
            )
            membership.node.add_dependency(self.admin_user)
            membership.node.add_dependency(self.admin_group)

    def _signed_in_role(self, construct_id: str, description: str) -> iam.Role:
        """A role only identities of this identity pool, signed in, may assume."""
        return iam.Role(
            self,
            construct_id,
            description=description,
            assumed_by=iam.FederatedPrincipal(
                "cognito-identity.amazonaws.com",
                conditions={
                    "StringEquals": {"cognito-identity.amazonaws.com:aud": self.identity_pool.ref},
                    "ForAnyValue:StringLike": {
                        "cognito-identity.amazonaws.com:amr": "authenticated"
                    },
                },
                assume_role_action="sts:AssumeRoleWithWebIdentity",
            ),
        )

    def options(self) -> opensearch.CfnDomain.CognitoOptionsProperty:
        """The domain's `CognitoOptions`."""
        return opensearch.CfnDomain.CognitoOptionsProperty(
            enabled=True,
            user_pool_id=self.user_pool.user_pool_id,
            identity_pool_id=self.identity_pool.ref,
            role_arn=self.service_role.role_arn,
        )

    def before_domain(self) -> list[Construct]:
        """What the domain must be created after (OpenSearch checks the pools when it starts)."""
        return [self.hosted_ui, self.roles]

    def _sdk_call_logs(self, retention: logs.RetentionDays) -> logs.ILogGroup:
        """The log group of the SDK calls' function (one function serves both calls)."""
        found = self.node.try_find_child("SdkCallLogs")
        if isinstance(found, logs.LogGroup):
            return found
        return logs.LogGroup(self, "SdkCallLogs", retention=retention)

    def map_group_roles(
        self, domain: opensearch.CfnDomain, log_retention: logs.RetentionDays
    ) -> None:
        """After the domain: let a group's role win over the authenticated role.

        The identity pool's rule names the app client OpenSearch Service created, which only
        exists now: it is looked up, then the identity pool's roles are set again with the rule
        (`Token`: the ID token's preferred role, i.e. the admin group's; anyone else the
        authenticated role).
        """
        stack = Stack.of(self)
        pool_id = self.user_pool.user_pool_id
        lookup = cr.AwsCustomResource(
            self,
            "DashboardsClientLookup",
            on_update=cr.AwsSdkCall(
                service="CognitoIdentityServiceProvider",
                action="listUserPoolClients",
                parameters={"UserPoolId": pool_id, "MaxResults": 1},
                physical_resource_id=cr.PhysicalResourceId.of(f"{pool_id}-dashboards-client"),
                output_paths=["UserPoolClients.0.ClientId"],
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["cognito-idp:ListUserPoolClients"],
                        resources=[self.user_pool.user_pool_arn],
                    )
                ]
            ),
            log_group=self._sdk_call_logs(log_retention),
            install_latest_aws_sdk=False,
        )
        lookup.node.add_dependency(domain)
        client_id = lookup.get_response_field("UserPoolClients.0.ClientId")
        provider = f"cognito-idp.{Aws.REGION}.{Aws.URL_SUFFIX}/{pool_id}:{client_id}"
        set_roles = cr.AwsSdkCall(
            service="CognitoIdentity",
            action="setIdentityPoolRoles",
            parameters={
                "IdentityPoolId": self.identity_pool.ref,
                "Roles": {"authenticated": self.reader_role.role_arn},
                "RoleMappings": {
                    "dashboards": {
                        "IdentityProvider": provider,
                        "Type": "Token",
                        "AmbiguousRoleResolution": "AuthenticatedRole",
                    }
                },
            },
            physical_resource_id=cr.PhysicalResourceId.of(f"{stack.stack_name}-dashboards-roles"),
        )
        mapping = cr.AwsCustomResource(
            self,
            "DashboardsGroupRoles",
            on_create=set_roles,
            on_update=set_roles,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["cognito-identity:SetIdentityPoolRoles"],
                        resources=[
                            stack.format_arn(
                                service="cognito-identity",
                                resource="identitypool",
                                resource_name=self.identity_pool.ref,
                            )
                        ],
                    ),
                    # Setting roles on an identity pool passes them to Cognito.
                    iam.PolicyStatement(
                        actions=["iam:PassRole"],
                        resources=[self.reader_role.role_arn, self.admin_role.role_arn],
                    ),
                ]
            ),
            log_group=self._sdk_call_logs(log_retention),
            install_latest_aws_sdk=False,
        )
        mapping.node.add_dependency(self.roles)
        CfnOutput(stack, "DashboardsUserPoolId", value=pool_id)
        CfnOutput(stack, "DashboardsSignInDomain", value=self.hosted_ui.base_url())


@dataclass(frozen=True)
class VpcPlacement:
    """The domain in a VPC: `vpc_id` and at least one subnet of it, or (no `vpc_id`) a new VPC."""

    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check(
            (self.vpc_id is None) == (not self.subnet_ids),
            "a VPC placement names both vpc_id and subnet_ids, or neither (a new VPC)",
        )


class DomainNetwork(Construct):
    """The VPC subnets and security groups of a domain placed in a VPC."""

    def __init__(
        self, scope: Construct, construct_id: str, *, placement: VpcPlacement, subnet_count: int
    ) -> None:
        super().__init__(scope, construct_id)
        if placement.vpc_id is None:
            vpc = ec2.Vpc(
                self,
                "Vpc",
                max_azs=max(2, subnet_count),
                nat_gateways=0,
                subnet_configuration=[
                    ec2.SubnetConfiguration(
                        name="search", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                    )
                ],
            )
            # No NAT: the indexer writes its dead letters to S3 through a gateway endpoint.
            vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)
            vpc_id = vpc.vpc_id
            subnets = [s.subnet_id for s in vpc.isolated_subnets]
        else:
            vpc_id, subnets = placement.vpc_id, list(placement.subnet_ids)
        check(
            len(subnets) >= subnet_count,
            f"the domain needs {subnet_count} subnets (one per zone), the VPC has {len(subnets)} "
            "(a new VPC in a stack without an account and region spans 2 zones: name a VPC "
            "and its subnets instead)",
        )
        # A domain takes exactly one subnet per zone it spans.
        self.subnet_ids = subnets[:subnet_count]
        self.lambda_subnet_ids = subnets
        self.vpc_id = vpc_id
        self.domain_group = self._group("DomainSecurityGroup", "the domain: HTTPS from its clients")
        self.setup_group = self._group("SetupSecurityGroup", "the setup function")
        self.indexer_group = self._group("IndexerSecurityGroup", "what writes into the domain")
        for name, client in (("Setup", self.setup_group), ("Indexer", self.indexer_group)):
            ec2.CfnSecurityGroupIngress(
                self,
                f"HttpsFrom{name}",
                group_id=self.domain_group.attr_group_id,
                ip_protocol="tcp",
                from_port=HTTPS,
                to_port=HTTPS,
                source_security_group_id=client.attr_group_id,
                description=f"HTTPS from the {name.lower()} security group",
            )

    def _group(self, construct_id: str, what: str) -> ec2.CfnSecurityGroup:
        return ec2.CfnSecurityGroup(
            self, construct_id, group_description=f"QoS search: {what}", vpc_id=self.vpc_id
        )

    def domain_options(self) -> opensearch.CfnDomain.VPCOptionsProperty:
        return opensearch.CfnDomain.VPCOptionsProperty(
            subnet_ids=self.subnet_ids, security_group_ids=[self.domain_group.attr_group_id]
        )

    def place_function(
        self, function: lambda_.Function, role: iam.IRole, group: ec2.CfnSecurityGroup
    ) -> None:
        """Put a function built without a VPC into the domain's subnets, in `group`."""
        cfn = function.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.vpc_config = lambda_.CfnFunction.VpcConfigProperty(
            security_group_ids=[group.attr_group_id], subnet_ids=self.lambda_subnet_ids
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="AttachToVpc",
                actions=list(VPC_ACCESS_ACTIONS),
                resources=["*"],  # network interfaces are created before their ARN exists
            )
        )
