"""The ingest edge: the CloudFront distribution players post to, and the hosted demo page.

The API's distribution forwards the viewer headers the original sample read (country, region,
city, coordinates, device class, user agent) through an origin request policy, and adds the
origin-verify header (`x-qos-origin-verify`) whose value is the origin secret: the function
refuses a request without it and trusts `CloudFront-Viewer-*` headers only with it, so the
regional API URL, which stays reachable, is of no use to a client.

CloudFormation puts the secret's value into the distribution with a dynamic reference
(`{{resolve:secretsmanager:...}}`), resolved at deploy time: it never appears in the template,
but it is part of the distribution's configuration (readable with cloudfront:GetDistribution).
Rotation (docs/deploy.md): put a new value in the secret (AWSCURRENT moves, the old value stays
AWSPREVIOUS), then deploy with `-c qos:ingest:originVerifyVersion=<the new version id>`: the
changed reference makes CloudFormation update the distribution; the function accepts both values
meanwhile.

CORS is answered by CloudFront (a response headers policy with the allowed origins), so the
Origin header need not reach the API: an origin request policy forwards ten headers at most, and
the ten viewer headers fill it (the function reads no other request header). The policy lists
them (`whitelist`) rather than forwarding every viewer header: CloudFront then sets the
`CloudFront-*` ones itself, and a client's own `CloudFront-Viewer-Country` never passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration, SecretValue
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_secretsmanager as secretsmanager

from qos_ingest_infra.demo_site import MARKER_FILE
from qos_shared_cdk import blocks, checkov
from qos_shared_cdk.blocks import ServiceStack

ORIGIN_VERIFY_HEADER = "x-qos-origin-verify"
# What the original sample's CloudFront forwarded, and the function reads.
VIEWER_HEADERS = (
    "CloudFront-Viewer-Country",
    "CloudFront-Viewer-Country-Region",
    "CloudFront-Viewer-City",
    "CloudFront-Viewer-Latitude",
    "CloudFront-Viewer-Longitude",
    "CloudFront-Is-Mobile-Viewer",
    "CloudFront-Is-Tablet-Viewer",
    "CloudFront-Is-Desktop-Viewer",
    "CloudFront-Is-SmartTV-Viewer",
    "User-Agent",
)
CORS_METHODS = ("GET", "OPTIONS", "POST")
CORS_HEADERS = ("Content-Type",)
CORS_MAX_AGE = Duration.minutes(10)


def origin_verify_value(secret: secretsmanager.ISecret, version_id: str | None) -> str:
    """The secret's value as a dynamic reference, of its AWSCURRENT version or of `version_id`
    (a rotation: the changed reference updates the distribution)."""
    value = SecretValue.secrets_manager(secret.secret_arn, version_id=version_id)
    return value.unsafe_unwrap()  # a {{resolve:...}} reference: no value in the template


def api_distribution(
    scope: ServiceStack,
    api: apigw.RestApi,
    *,
    origin_verify: str,
    cors_allow_origins: Sequence[str],
    web_acl_arn: str,
) -> cloudfront.Distribution:
    """`ApiDistribution`: every method to the API's stage, nothing cached."""
    request_policy = cloudfront.OriginRequestPolicy(
        scope,
        "ViewerHeadersPolicy",
        comment=scope.describe(does="viewer location and device headers to the API"),
        header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(*VIEWER_HEADERS),
        query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.none(),
        cookie_behavior=cloudfront.OriginRequestCookieBehavior.none(),
    )
    cors = cloudfront.ResponseHeadersPolicy(
        scope,
        "CorsPolicy",
        comment=scope.describe(does="CORS for the allowed origins"),
        cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
            access_control_allow_credentials=False,
            access_control_allow_headers=list(CORS_HEADERS),
            access_control_allow_methods=list(CORS_METHODS),
            access_control_allow_origins=list(cors_allow_origins),
            access_control_max_age=CORS_MAX_AGE,
            origin_override=True,
        ),
        security_headers_behavior=_security_headers(),
    )
    origin = origins.RestApiOrigin(api, custom_headers={ORIGIN_VERIFY_HEADER: origin_verify})
    distribution = cloudfront.Distribution(
        scope,
        "ApiDistribution",
        comment=scope.describe(does="ingest API edge"),
        default_behavior=cloudfront.BehaviorOptions(
            origin=origin,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=request_policy,
            response_headers_policy=cors,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        ),
        # Every edge location: a viewer's country and city come from the one that serves it.
        price_class=cloudfront.PriceClass.PRICE_CLASS_ALL,
        http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        web_acl_id=web_acl_arn,
        enable_logging=False,
    )
    checkov.skip(distribution, *DISTRIBUTION_SKIPS)
    return distribution


DISTRIBUTION_SKIPS = (
    (
        "CKV_AWS_86",
        "CloudFront access logs hold every viewer's IP address; the API's access logs (no "
        "IP) and WAF's metrics cover operations",
    ),
    (
        "CKV_AWS_174",
        "the default *.cloudfront.net certificate, whose minimum protocol CloudFront fixes; "
        "a custom domain with TLSv1.2_2021 is a deployment's choice",
    ),
)


def _security_headers() -> cloudfront.ResponseSecurityHeadersBehavior:
    return cloudfront.ResponseSecurityHeadersBehavior(
        content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
        strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
            access_control_max_age=Duration.days(365), include_subdomains=True, override=True
        ),
        referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
            referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
            override=True,
        ),
        frame_options=cloudfront.ResponseHeadersFrameOptions(
            frame_option=cloudfront.HeadersFrameOption.DENY, override=True
        ),
    )


class DemoPage:
    """The hosted demo page: a private bucket (`DemoPageBucket`) read by CloudFront through an
    origin access control (`DemoPageDistribution`), filled at deploy time with the site's files
    and a `config.json` that points the SDK at the edge (`DemoPageFiles`)."""

    def __init__(self, scope: ServiceStack, site_dir: Path, *, web_acl_arn: str) -> None:
        self.bucket = blocks.private_bucket(scope, "DemoPageBucket", [])
        checkov.skip(
            self.bucket,
            (
                "CKV_AWS_18",
                "server access logs would need a log bucket of their own; CloudTrail data events "
                "are the account's choice for object-level audit",
            ),
            (
                "CKV_AWS_21",
                "the page's files are rebuilt from the repository on every deploy",
            ),
        )
        self.distribution = cloudfront.Distribution(
            scope,
            "DemoPageDistribution",
            comment=scope.describe(does="hosted demo page"),
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy(
                    scope,
                    "DemoPageHeadersPolicy",
                    comment=scope.describe(does="demo page security headers"),
                    security_headers_behavior=_security_headers(),
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            ),
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            web_acl_id=web_acl_arn,
            enable_logging=False,
        )
        checkov.skip(self.distribution, *DISTRIBUTION_SKIPS)
        self.site_dir = site_dir
        self.origin = f"https://{self.distribution.distribution_domain_name}"
        self.url = f"{self.origin}/"

    def deploy_files(
        self,
        scope: ServiceStack,
        config: dict[str, str],
        log_retention: logs.RetentionDays,
    ) -> s3deploy.BucketDeployment:
        """Upload the site and its `config.json` (deploy-time values allowed), then invalidate
        the distribution's cache."""
        return s3deploy.BucketDeployment(
            scope,
            "DemoPageFiles",
            sources=[
                s3deploy.Source.asset(str(self.site_dir), exclude=[MARKER_FILE]),
                s3deploy.Source.json_data("config.json", config),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            memory_limit=256,
            log_group=blocks.log_group(scope, "DemoPageFilesLogs", log_retention),
        )
