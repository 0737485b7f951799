//! The CIS alarm catalogue of a trail with a log group: the CIS AWS Foundations Benchmark's
//! monitoring set (section 4, controls 4.1 to 4.15), one metric filter each counting into
//! `CloudTrailMetrics/<trail>-<metric>`, and the `cloudwatch_alarm` entries on them
//! ([`security_alarms`]) that notify `security_alarms.topic`. The patterns are the
//! benchmark's; each satisfies the Prowler check named beside it (a unit test applies
//! Prowler's regexes to them).

use std::collections::BTreeMap;

use crate::spec::model::{Alarm, Trail};
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// Namespace of the CIS metrics.
pub const CIS_NAMESPACE: &str = "CloudTrailMetrics";

/// One control of the CIS monitoring set.
pub struct CisControl {
    /// The benchmark's control number (`4.3`).
    pub cis: &'static str,
    /// The alarm's logical name is `<trail key>_<suffix>`.
    pub suffix: &'static str,
    /// The filter's name; its metric is `<trail name>-<metric>`.
    pub metric: &'static str,
    /// The filter pattern (the benchmark's).
    pub pattern: &'static str,
    /// What it catches, for the alarm's description.
    pub what: &'static str,
    /// The Prowler check this control satisfies.
    pub prowler: &'static str,
    /// What a filter pattern must name to count as this control (event names, event
    /// source, fields): the HIPAA gate's test of a live or spec filter (see [`covers`]).
    pub needles: &'static [&'static str],
}

/// The CIS filters, in the benchmark's order.
pub const CIS_FILTERS: &[CisControl] = &[
    CisControl {
        cis: "4.1",
        suffix: "unauthorized_api_calls",
        metric: "UnauthorizedAPICalls",
        pattern: r#"{ (($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*")) && ($.sourceIPAddress != "delivery.logs.amazonaws.com") && ($.eventName != "HeadBucket") }"#,
        what: "unauthorized API calls",
        prowler: "cloudwatch_log_metric_filter_unauthorized_api_calls",
        needles: &["$.errorCode", "*UnauthorizedOperation", "AccessDenied*"],
    },
    CisControl {
        cis: "4.2",
        suffix: "sign_in_without_mfa",
        metric: "ConsoleSignInWithoutMFA",
        pattern: r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }"#,
        what: "console sign-in without MFA",
        prowler: "cloudwatch_log_metric_filter_sign_in_without_mfa",
        needles: &["ConsoleLogin", "$.additionalEventData.MFAUsed"],
    },
    CisControl {
        cis: "4.3",
        suffix: "root_usage",
        metric: "RootAccountUsage",
        pattern: r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#,
        what: "the root account was used",
        prowler: "cloudwatch_log_metric_filter_root_usage",
        needles: &["$.userIdentity.type", "Root", "invokedBy NOT EXISTS"],
    },
    CisControl {
        cis: "4.4",
        suffix: "iam_policy_changes",
        metric: "IAMPolicyChanges",
        pattern: "{ ($.eventName = DeleteGroupPolicy) || ($.eventName = DeleteRolePolicy) || ($.eventName = DeleteUserPolicy) || ($.eventName = PutGroupPolicy) || ($.eventName = PutRolePolicy) || ($.eventName = PutUserPolicy) || ($.eventName = CreatePolicy) || ($.eventName = DeletePolicy) || ($.eventName = CreatePolicyVersion) || ($.eventName = DeletePolicyVersion) || ($.eventName = AttachRolePolicy) || ($.eventName = DetachRolePolicy) || ($.eventName = AttachUserPolicy) || ($.eventName = DetachUserPolicy) || ($.eventName = AttachGroupPolicy) || ($.eventName = DetachGroupPolicy) }",
        what: "IAM policy changes",
        prowler: "cloudwatch_log_metric_filter_policy_changes",
        needles: &[
            "DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy",
            "PutRolePolicy", "PutUserPolicy", "CreatePolicy", "DeletePolicy",
            "CreatePolicyVersion", "DeletePolicyVersion", "AttachRolePolicy", "DetachRolePolicy",
            "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy",
        ],
    },
    CisControl {
        cis: "4.5",
        suffix: "cloudtrail_changes",
        metric: "CloudTrailConfigChanges",
        pattern: "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }",
        what: "CloudTrail configuration changes",
        prowler: "cloudwatch_log_metric_filter_and_alarm_for_cloudtrail_configuration_changes_enabled",
        needles: &["CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"],
    },
    CisControl {
        cis: "4.6",
        suffix: "console_auth_failures",
        metric: "ConsoleAuthenticationFailures",
        pattern: r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#,
        what: "console sign-in failed authentication",
        prowler: "cloudwatch_log_metric_filter_authentication_failures",
        needles: &["ConsoleLogin", "Failed authentication"],
    },
    CisControl {
        cis: "4.7",
        suffix: "kms_key_disable_or_deletion",
        metric: "DisableOrDeleteCMK",
        pattern: "{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion)) }",
        what: "a customer-managed KMS key disabled or scheduled for deletion",
        prowler: "cloudwatch_log_metric_filter_disable_or_scheduled_deletion_of_kms_cmk",
        needles: &["kms.amazonaws.com", "DisableKey", "ScheduleKeyDeletion"],
    },
    CisControl {
        cis: "4.8",
        suffix: "bucket_policy_changes",
        metric: "S3BucketPolicyChanges",
        pattern: "{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = DeleteBucketReplication)) }",
        what: "S3 bucket policy changes",
        prowler: "cloudwatch_log_metric_filter_for_s3_bucket_policy_changes",
        needles: &[
            "s3.amazonaws.com", "PutBucketAcl", "PutBucketPolicy", "PutBucketCors",
            "PutBucketLifecycle", "PutBucketReplication", "DeleteBucketPolicy",
            "DeleteBucketCors", "DeleteBucketLifecycle", "DeleteBucketReplication",
        ],
    },
    CisControl {
        cis: "4.9",
        suffix: "config_changes",
        metric: "AWSConfigChanges",
        pattern: "{ ($.eventSource = config.amazonaws.com) && (($.eventName = StopConfigurationRecorder) || ($.eventName = DeleteDeliveryChannel) || ($.eventName = PutDeliveryChannel) || ($.eventName = PutConfigurationRecorder)) }",
        what: "AWS Config configuration changes",
        prowler: "cloudwatch_log_metric_filter_and_alarm_for_aws_config_configuration_changes_enabled",
        needles: &[
            "config.amazonaws.com", "StopConfigurationRecorder", "DeleteDeliveryChannel",
            "PutDeliveryChannel", "PutConfigurationRecorder",
        ],
    },
    CisControl {
        cis: "4.10",
        suffix: "security_group_changes",
        metric: "SecurityGroupChanges",
        pattern: "{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }",
        what: "security group changes",
        prowler: "cloudwatch_log_metric_filter_security_group_changes",
        needles: &[
            "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress", "CreateSecurityGroup",
            "DeleteSecurityGroup",
        ],
    },
    CisControl {
        cis: "4.11",
        suffix: "nacl_changes",
        metric: "NACLChanges",
        pattern: "{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }",
        what: "network ACL changes",
        prowler: "cloudwatch_changes_to_network_acls_alarm_configured",
        needles: &[
            "CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl",
            "DeleteNetworkAclEntry", "ReplaceNetworkAclEntry", "ReplaceNetworkAclAssociation",
        ],
    },
    CisControl {
        cis: "4.12",
        suffix: "network_gateway_changes",
        metric: "NetworkGatewayChanges",
        pattern: "{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || ($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || ($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }",
        what: "network gateway changes",
        prowler: "cloudwatch_changes_to_network_gateways_alarm_configured",
        needles: &[
            "CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway",
            "CreateInternetGateway", "DeleteInternetGateway", "DetachInternetGateway",
        ],
    },
    CisControl {
        cis: "4.13",
        suffix: "route_table_changes",
        metric: "RouteTableChanges",
        pattern: "{ ($.eventSource = ec2.amazonaws.com) && (($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable)) }",
        what: "route table changes",
        prowler: "cloudwatch_changes_to_network_route_tables_alarm_configured",
        needles: &[
            "ec2.amazonaws.com", "CreateRoute", "CreateRouteTable", "ReplaceRoute",
            "ReplaceRouteTableAssociation", "DeleteRouteTable", "DeleteRoute",
            "DisassociateRouteTable",
        ],
    },
    CisControl {
        cis: "4.14",
        suffix: "vpc_changes",
        metric: "VPCChanges",
        pattern: "{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = ModifyVpcAttribute) || ($.eventName = AcceptVpcPeeringConnection) || ($.eventName = CreateVpcPeeringConnection) || ($.eventName = DeleteVpcPeeringConnection) || ($.eventName = RejectVpcPeeringConnection) || ($.eventName = AttachClassicLinkVpc) || ($.eventName = DetachClassicLinkVpc) || ($.eventName = DisableVpcClassicLink) || ($.eventName = EnableVpcClassicLink) }",
        what: "VPC changes",
        prowler: "cloudwatch_changes_to_vpcs_alarm_configured",
        needles: &[
            "CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection",
            "CreateVpcPeeringConnection", "DeleteVpcPeeringConnection",
            "RejectVpcPeeringConnection", "AttachClassicLinkVpc", "DetachClassicLinkVpc",
            "DisableVpcClassicLink", "EnableVpcClassicLink",
        ],
    },
    CisControl {
        cis: "4.15",
        suffix: "organizations_changes",
        metric: "OrganizationsChanges",
        pattern: "{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = AcceptHandshake) || ($.eventName = AttachPolicy) || ($.eventName = CancelHandshake) || ($.eventName = CreateAccount) || ($.eventName = CreateOrganization) || ($.eventName = CreateOrganizationalUnit) || ($.eventName = CreatePolicy) || ($.eventName = DeclineHandshake) || ($.eventName = DeleteOrganization) || ($.eventName = DeleteOrganizationalUnit) || ($.eventName = DeletePolicy) || ($.eventName = EnableAllFeatures) || ($.eventName = EnablePolicyType) || ($.eventName = InviteAccountToOrganization) || ($.eventName = LeaveOrganization) || ($.eventName = DetachPolicy) || ($.eventName = DisablePolicyType) || ($.eventName = MoveAccount) || ($.eventName = RemoveAccountFromOrganization) || ($.eventName = UpdateOrganizationalUnit) || ($.eventName = UpdatePolicy)) }",
        what: "AWS Organizations changes",
        prowler: "cloudwatch_log_metric_filter_aws_organizations_changes",
        needles: &[
            "organizations.amazonaws.com", "AcceptHandshake", "AttachPolicy", "CancelHandshake",
            "CreateAccount", "CreateOrganization", "CreateOrganizationalUnit", "CreatePolicy",
            "DeclineHandshake", "DeleteOrganization", "DeleteOrganizationalUnit", "DeletePolicy",
            "EnableAllFeatures", "EnablePolicyType", "InviteAccountToOrganization",
            "LeaveOrganization", "DetachPolicy", "DisablePolicyType", "MoveAccount",
            "RemoveAccountFromOrganization", "UpdateOrganizationalUnit", "UpdatePolicy",
        ],
    },
];

/// Does `pattern` name every one of the control's needles, each as a whole word (so
/// `CreateRoute` is not satisfied by `CreateRouteTable`)?
pub fn covers(c: &CisControl, pattern: &str) -> bool {
    c.needles.iter().all(|n| mentions(pattern, n))
}

fn mentions(pattern: &str, needle: &str) -> bool {
    let word = |ch: Option<char>| ch.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    pattern.match_indices(needle).any(|(i, _)| {
        let before = pattern[..i].chars().next_back();
        let after = pattern[i + needle.len()..].chars().next();
        // A needle that starts or ends with a non-word character needs no boundary there.
        let first = needle.chars().next();
        let last = needle.chars().next_back();
        (!word(first) || !word(before)) && (!word(last) || !word(after))
    })
}

/// Does the trail get the CIS filters and alarms (it has a log group, and
/// `security_alarms.enabled` is not false)?
pub fn cis_on(t: &Trail) -> bool {
    t.log_group.is_some() && t.security_alarms.as_ref().is_none_or(|a| a.enabled)
}

/// The alarms on the CIS metrics of every trail with a log group, as `cloudwatch.alarms`
/// entries: (logical name, spec path their keys live under, alarm).
pub fn security_alarms(
    spec: &LoadedSpec,
    r: &Renderer,
) -> Result<Vec<(String, String, Alarm)>, SpecError> {
    let mut out = Vec::new();
    for (name, t) in &spec.spec.cloudtrail {
        if !cis_on(t) {
            continue;
        }
        let path = format!("cloudtrail.{name}.security_alarms");
        let trail = r.str(&format!("cloudtrail.{name}.name"), &t.name)?;
        // The spec's topic; with none named, the spec's only topic if it has exactly one.
        let only = (spec.spec.sns.len() == 1)
            .then(|| spec.spec.sns.keys().next().cloned())
            .flatten();
        let topic: Vec<String> = t
            .security_alarms
            .as_ref()
            .and_then(|a| a.topic.clone())
            .or(only)
            .into_iter()
            .collect();
        for c in CIS_FILTERS {
            out.push((
                format!("{name}_{}", c.suffix),
                path.clone(),
                Alarm {
                    name: format!("{trail}-{}", c.metric),
                    description: Some(format!("CloudTrail {trail}: {} (CIS {})", c.what, c.cis)),
                    namespace: CIS_NAMESPACE.into(),
                    metric: format!("{trail}-{}", c.metric),
                    statistic: "Sum".into(),
                    dimensions: BTreeMap::new(),
                    period: 300,
                    evaluation_periods: 1,
                    threshold: 1.0,
                    comparison: "GreaterThanOrEqualToThreshold".into(),
                    treat_missing_data: Some("notBreaching".into()),
                    actions: topic.clone(),
                    ok_actions: Vec::new(),
                    insufficient_data_actions: None,
                    tags: t.tags.clone(),
                    protect: t.protect,
                },
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{covers, CIS_FILTERS};
    use regex_lite::Regex;

    /// Prowler's `build_metric_filter_pattern` (prowler/providers/aws/services/cloudwatch/
    /// lib/metric_filters.py): a conjunction of lookaheads `(?=.*CLAUSE)` searched with
    /// `re.DOTALL`, which holds exactly when every clause matches somewhere. regex-lite has
    /// no lookahead, so the clauses are returned to be searched one by one.
    fn prowler_clauses(
        event_names: &[&str],
        event_source: Option<&str>,
        extra: &[(&str, &str, &str)],
    ) -> Vec<String> {
        let esc = |s: &str| regex_lite::escape(s);
        let mut parts = Vec::new();
        if let Some(src) = event_source {
            parts.push(format!(r"(?s)\$\.eventSource\s*=\s*.?{}", esc(src)));
        }
        for name in event_names {
            parts.push(format!(r"(?s)\$\.eventName\s*=\s*.?{}\b", esc(name)));
        }
        for (field, op, value) in extra {
            let op = if *op == "!=" { r"\s*!=\s*" } else { r"\s*=\s*" };
            parts.push(format!(r"(?s)\$\.{}{op}.?{}", esc(field), esc(value)));
        }
        parts
    }

    /// Prowler's regex (or clauses) per check id, copied from its checks.
    fn prowler(check: &str) -> Vec<String> {
        match check {
            // cloudwatch_log_metric_filter_unauthorized_api_calls.py
            "cloudwatch_log_metric_filter_unauthorized_api_calls" => vec![
                r"(?s)\$\.errorCode\s*=\s*.?\*UnauthorizedOperation.+\$\.errorCode\s*=\s*.?AccessDenied\*.?".into(),
            ],
            // cloudwatch_log_metric_filter_sign_in_without_mfa.py
            "cloudwatch_log_metric_filter_sign_in_without_mfa" => prowler_clauses(
                &["ConsoleLogin"],
                None,
                &[("additionalEventData.MFAUsed", "!=", "Yes")],
            ),
            // cloudwatch_log_metric_filter_root_usage.py
            "cloudwatch_log_metric_filter_root_usage" => vec![
                r"(?s)\$\.userIdentity\.type\s*=\s*.?Root.+\$\.userIdentity\.invokedBy NOT EXISTS.+\$\.eventType\s*!=\s*.?AwsServiceEvent.?".into(),
            ],
            // cloudwatch_log_metric_filter_policy_changes.py
            "cloudwatch_log_metric_filter_policy_changes" => prowler_clauses(
                &[
                    "DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy",
                    "PutRolePolicy", "PutUserPolicy", "CreatePolicy", "DeletePolicy",
                    "CreatePolicyVersion", "DeletePolicyVersion", "AttachRolePolicy",
                    "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy",
                    "AttachGroupPolicy", "DetachGroupPolicy",
                ],
                None,
                &[],
            ),
            // cloudwatch_log_metric_filter_and_alarm_for_cloudtrail_configuration_changes_enabled.py
            "cloudwatch_log_metric_filter_and_alarm_for_cloudtrail_configuration_changes_enabled" => {
                prowler_clauses(
                    &["CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"],
                    None,
                    &[],
                )
            }
            // cloudwatch_log_metric_filter_authentication_failures.py
            "cloudwatch_log_metric_filter_authentication_failures" => prowler_clauses(
                &["ConsoleLogin"],
                None,
                &[("errorMessage", "=", "Failed authentication")],
            ),
            // cloudwatch_log_metric_filter_disable_or_scheduled_deletion_of_kms_cmk.py
            "cloudwatch_log_metric_filter_disable_or_scheduled_deletion_of_kms_cmk" => {
                prowler_clauses(
                    &["DisableKey", "ScheduleKeyDeletion"],
                    Some("kms.amazonaws.com"),
                    &[],
                )
            }
            // cloudwatch_log_metric_filter_for_s3_bucket_policy_changes.py
            "cloudwatch_log_metric_filter_for_s3_bucket_policy_changes" => prowler_clauses(
                &[
                    "PutBucketAcl", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle",
                    "PutBucketReplication", "DeleteBucketPolicy", "DeleteBucketCors",
                    "DeleteBucketLifecycle", "DeleteBucketReplication",
                ],
                Some("s3.amazonaws.com"),
                &[],
            ),
            // cloudwatch_log_metric_filter_and_alarm_for_aws_config_configuration_changes_enabled.py
            "cloudwatch_log_metric_filter_and_alarm_for_aws_config_configuration_changes_enabled" => {
                prowler_clauses(
                    &[
                        "StopConfigurationRecorder", "DeleteDeliveryChannel",
                        "PutDeliveryChannel", "PutConfigurationRecorder",
                    ],
                    Some("config.amazonaws.com"),
                    &[],
                )
            }
            // cloudwatch_log_metric_filter_security_group_changes.py
            "cloudwatch_log_metric_filter_security_group_changes" => prowler_clauses(
                &[
                    "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
                    "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
                    "CreateSecurityGroup", "DeleteSecurityGroup",
                ],
                None,
                &[],
            ),
            // cloudwatch_changes_to_network_acls_alarm_configured.py
            "cloudwatch_changes_to_network_acls_alarm_configured" => prowler_clauses(
                &[
                    "CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl",
                    "DeleteNetworkAclEntry", "ReplaceNetworkAclEntry",
                    "ReplaceNetworkAclAssociation",
                ],
                None,
                &[],
            ),
            // cloudwatch_changes_to_network_gateways_alarm_configured.py
            "cloudwatch_changes_to_network_gateways_alarm_configured" => prowler_clauses(
                &[
                    "CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway",
                    "CreateInternetGateway", "DeleteInternetGateway", "DetachInternetGateway",
                ],
                None,
                &[],
            ),
            // cloudwatch_changes_to_network_route_tables_alarm_configured.py
            "cloudwatch_changes_to_network_route_tables_alarm_configured" => prowler_clauses(
                &[
                    "CreateRoute", "CreateRouteTable", "ReplaceRoute",
                    "ReplaceRouteTableAssociation", "DeleteRouteTable", "DeleteRoute",
                    "DisassociateRouteTable",
                ],
                Some("ec2.amazonaws.com"),
                &[],
            ),
            // cloudwatch_changes_to_vpcs_alarm_configured.py
            "cloudwatch_changes_to_vpcs_alarm_configured" => prowler_clauses(
                &[
                    "CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection",
                    "CreateVpcPeeringConnection", "DeleteVpcPeeringConnection",
                    "RejectVpcPeeringConnection", "AttachClassicLinkVpc", "DetachClassicLinkVpc",
                    "DisableVpcClassicLink", "EnableVpcClassicLink",
                ],
                None,
                &[],
            ),
            // cloudwatch_log_metric_filter_aws_organizations_changes.py
            "cloudwatch_log_metric_filter_aws_organizations_changes" => prowler_clauses(
                &[
                    "AcceptHandshake", "AttachPolicy", "CancelHandshake", "CreateAccount",
                    "CreateOrganization", "CreateOrganizationalUnit", "CreatePolicy",
                    "DeclineHandshake", "DeleteOrganization", "DeleteOrganizationalUnit",
                    "DeletePolicy", "EnableAllFeatures", "EnablePolicyType",
                    "InviteAccountToOrganization", "LeaveOrganization", "DetachPolicy",
                    "DisablePolicyType", "MoveAccount", "RemoveAccountFromOrganization",
                    "UpdateOrganizationalUnit", "UpdatePolicy",
                ],
                Some("organizations.amazonaws.com"),
                &[],
            ),
            other => panic!("no Prowler regex copied for {other}"),
        }
    }

    fn prowler_passes(check: &str, pattern: &str) -> bool {
        prowler(check)
            .iter()
            .all(|c| Regex::new(c).unwrap().is_match(pattern))
    }

    #[test]
    fn every_pattern_satisfies_its_prowler_check() {
        for c in CIS_FILTERS {
            assert!(
                prowler_passes(c.prowler, c.pattern),
                "CIS {} ({}) fails {}",
                c.cis,
                c.metric,
                c.prowler
            );
        }
    }

    #[test]
    fn the_set_is_the_benchmarks_fifteen_controls_each_once() {
        let ids: Vec<&str> = CIS_FILTERS.iter().map(|c| c.cis).collect();
        let want: Vec<String> = (1..=15).map(|i| format!("4.{i}")).collect();
        assert_eq!(ids, want);
        let mut checks: Vec<&str> = CIS_FILTERS.iter().map(|c| c.prowler).collect();
        checks.sort();
        checks.dedup();
        assert_eq!(checks.len(), 15);
        for c in CIS_FILTERS {
            // CloudWatch Logs takes filter patterns of at most 1,024 characters.
            assert!(c.pattern.len() <= 1024, "{} is too long", c.metric);
        }
    }

    #[test]
    fn the_prowler_regexes_reject_what_they_should() {
        // A pattern missing one event name fails its check (the test above can fail).
        let nacl = CIS_FILTERS.iter().find(|c| c.cis == "4.11").unwrap();
        let cut = nacl
            .pattern
            .replace("($.eventName = DeleteNetworkAcl) || ", "");
        assert!(!prowler_passes(nacl.prowler, &cut));
        // A longer name does not stand for a shorter one (CreateRouteTable for CreateRoute).
        let routes = CIS_FILTERS.iter().find(|c| c.cis == "4.13").unwrap();
        let cut = routes
            .pattern
            .replace("($.eventName = CreateRoute) || ", "");
        assert!(!prowler_passes(routes.prowler, &cut));
        assert!(!covers(routes, &cut));
    }

    #[test]
    fn each_pattern_names_its_needles_and_only_its_own_control_covers_it() {
        for c in CIS_FILTERS {
            assert!(covers(c, c.pattern), "CIS {} does not cover itself", c.cis);
        }
        let sg = CIS_FILTERS.iter().find(|c| c.cis == "4.10").unwrap();
        let vpc = CIS_FILTERS.iter().find(|c| c.cis == "4.14").unwrap();
        assert!(!covers(sg, vpc.pattern));
        assert!(!covers(vpc, sg.pattern));
    }
}
