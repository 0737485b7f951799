//! The rule catalogue: one entry per control, its mappings as data, and a pure check over one
//! resource's state (desired or observed: the same shape). `docs/compliance.md` is generated
//! from this list (`novactl check --catalogue`); a test keeps the two equal.

use serde_json::Value;

use super::{net, Mode, Severity, Subject, Verdict, World};
use crate::resources::cloudtrail::cis;

#[derive(Debug)]
pub struct Rule {
    /// Stable id (`NOVA-S3-001`); never reused for another control.
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// HIPAA Security Rule clauses (45 CFR).
    pub hipaa: &'static [&'static str],
    pub aws_config: Option<&'static str>,
    pub prowler: Option<&'static str>,
    pub cdk_nag: Option<&'static str>,
    /// Resource kinds it runs on.
    pub kinds: &'static [&'static str],
    /// Looks at other resources too (no single-resource pack has it).
    pub cross: bool,
    /// Attributes it reads: the evidence cited by `report`.
    pub reads: &'static [&'static str],
    /// What to do about a finding.
    pub help: &'static str,
    /// `None`: does not apply to this resource.
    pub check: fn(&Subject, &World<'_>) -> Option<Verdict>,
}

pub const ENCRYPTION: &str = "§164.312(a)(2)(iv)";
pub const TRANSMISSION: &str = "§164.312(e)(1)";
pub const AUDIT: &str = "§164.312(b)";
pub const INTEGRITY: &str = "§164.312(c)(1)";
pub const ACCESS: &str = "§164.312(a)(1)";
pub const INFO_ACCESS: &str = "§164.308(a)(4)(ii)(B)";
pub const BACKUP: &str = "§164.308(a)(7)(ii)(A)";
pub const DISASTER: &str = "§164.308(a)(7)(ii)(B)";
pub const ACTIVITY_REVIEW: &str = "§164.308(a)(1)(ii)(D)";
pub const LOGIN_MONITORING: &str = "§164.308(a)(5)(ii)(C)";
pub const INCIDENTS: &str = "§164.308(a)(6)(ii)";
pub const RETENTION: &str = "§164.316(b)(2)(i)";

/// Where the catalogue is documented (SARIF `helpUri`); `NOVACTL_DOCS_URL` overrides it.
pub const DOCS_URL: &str = "https://github.com/novactl/novactl/blob/main/docs/compliance.md";

pub fn docs_url() -> String {
    std::env::var("NOVACTL_DOCS_URL").unwrap_or_else(|_| DOCS_URL.to_string())
}

pub fn help_uri(id: &str) -> String {
    format!("{}#{}", docs_url(), id.to_lowercase())
}

pub static CATALOGUE: &[Rule] = &[
    Rule {
        id: "NOVA-KMS-001",
        title: "KMS key rotation is enabled",
        severity: Severity::Error,
        hipaa: &[ENCRYPTION],
        aws_config: Some("cmk-backing-key-rotation-enabled"),
        prowler: Some("kms_cmk_rotation_enabled"),
        cdk_nag: Some("HIPAA.Security-KMSBackingKeyRotationEnabled"),
        kinds: &["kms"],
        cross: false,
        reads: &["rotation"],
        help: "Set `rotation: true` on the key (the default); apply re-enables rotation that was switched off out of band.",
        check: |s, _| Some(Verdict::when(s.state["rotation"] == true, "rotation", "key rotation is off")),
    },
    Rule {
        id: "NOVA-KMS-002",
        title: "KMS key is enabled, not pending deletion",
        severity: Severity::Error,
        hipaa: &[ENCRYPTION, BACKUP],
        aws_config: Some("kms-cmk-not-scheduled-for-deletion"),
        prowler: Some("kms_cmk_not_deleted_unintentionally"),
        cdk_nag: None,
        kinds: &["kms"],
        cross: false,
        reads: &["key_state"],
        help: "A key scheduled for deletion takes every object encrypted with it along; apply cancels the deletion and enables the key.",
        check: |s, _| {
            let st = s.state["key_state"].as_str().unwrap_or_default();
            Some(Verdict::when(st == "Enabled", "", format!("the key is {st}, not Enabled")))
        },
    },
    Rule {
        id: "NOVA-S3-001",
        title: "S3 default encryption is SSE-KMS with a customer key (the access-log bucket: SSE-S3)",
        severity: Severity::Error,
        hipaa: &[ENCRYPTION],
        aws_config: Some("s3-default-encryption-kms"),
        prowler: Some("s3_bucket_kms_encryption"),
        cdk_nag: Some("HIPAA.Security-S3DefaultEncryptionKMS"),
        kinds: &["s3"],
        cross: false,
        reads: &["encryption.algorithm", "encryption.kms_key_arn"],
        help: "Name a `kms_key` for the bucket. Only the bucket marked `access_log_bucket: true` is encrypted with SSE-S3, because S3 delivers server access logs to no SSE-KMS bucket.",
        check: |s, w| {
            let alg = s.state["encryption"]["algorithm"].as_str().unwrap_or("none");
            if is_access_log_bucket(s, w) {
                return Some(Verdict::when(
                    alg == "AES256",
                    "",
                    format!("the access-log bucket is encrypted with {alg}, not SSE-S3 (AES256)"),
                ));
            }
            let key = s.state["encryption"]["kms_key_arn"].as_str().unwrap_or_default();
            Some(if alg != "aws:kms" {
                Verdict::fail("kms_key", format!("default encryption is {alg}, not SSE-KMS"))
            } else if key.is_empty() || key.contains("alias/aws/") {
                Verdict::fail("kms_key", "SSE-KMS uses the AWS-managed key, not a customer key")
            } else {
                Verdict::Pass
            })
        },
    },
    Rule {
        id: "NOVA-S3-002",
        title: "S3 bucket policy denies requests without TLS (plain `\"aws:SecureTransport\": \"false\"`)",
        severity: Severity::Error,
        hipaa: &[TRANSMISSION, "§164.312(e)(2)(ii)"],
        aws_config: Some("s3-bucket-ssl-requests-only"),
        prowler: Some("s3_bucket_secure_transport_policy"),
        cdk_nag: Some("HIPAA.Security-S3BucketSSLRequestsOnly"),
        kinds: &["s3"],
        cross: false,
        reads: &["policy"],
        help: "novactl always writes the TLS-only statement in the plain form scanners read; a finding in live mode is drift that apply repairs.",
        check: |s, _| Some(tls_only(s)),
    },
    Rule {
        id: "NOVA-S3-003",
        title: "S3 versioning is enabled",
        severity: Severity::Error,
        hipaa: &[INTEGRITY, BACKUP],
        aws_config: Some("s3-bucket-versioning-enabled"),
        prowler: Some("s3_bucket_object_versioning"),
        cdk_nag: Some("HIPAA.Security-S3BucketVersioningEnabled"),
        kinds: &["s3"],
        cross: false,
        reads: &["versioning"],
        help: "Set `versioning: true` (the default).",
        check: |s, _| Some(Verdict::when(s.state["versioning"] == true, "versioning", "versioning is not enabled")),
    },
    Rule {
        id: "NOVA-S3-004",
        title: "S3 public access block: all four settings on",
        severity: Severity::Error,
        hipaa: &[ACCESS, INFO_ACCESS],
        aws_config: Some("s3-bucket-level-public-access-prohibited"),
        prowler: Some("s3_bucket_level_public_access_block"),
        cdk_nag: Some("HIPAA.Security-S3BucketLevelPublicAccessProhibited"),
        kinds: &["s3"],
        cross: false,
        reads: &["public_access_block"],
        help: "novactl always applies all four settings; a finding in live mode is drift that apply repairs.",
        check: |s, _| {
            let off: Vec<&str> = [
                "block_public_acls",
                "ignore_public_acls",
                "block_public_policy",
                "restrict_public_buckets",
            ]
            .into_iter()
            .filter(|k| s.state["public_access_block"][*k] != true)
            .collect();
            Some(Verdict::when(off.is_empty(), "", format!("public access block off: {}", off.join(", "))))
        },
    },
    Rule {
        id: "NOVA-S3-005",
        title: "S3 server access logging to the region's access-log bucket",
        severity: Severity::Warning,
        hipaa: &[AUDIT, ACTIVITY_REVIEW],
        aws_config: Some("s3-bucket-logging-enabled"),
        prowler: Some("s3_bucket_server_access_logging_enabled"),
        cdk_nag: Some("HIPAA.Security-S3BucketLoggingEnabled"),
        kinds: &["s3"],
        cross: true,
        reads: &["logging.enabled", "logging.target_bucket", "logging.target_prefix"],
        help: "Mark one bucket of the region `access_log_bucket: true`; every bucket then logs to it by default (`access_logging: false` turns one off). The access-log bucket itself does not log (into itself every log would be logged again) and is not checked.",
        check: |s, w| {
            let l = &s.state["logging"];
            if l["enabled"] != true && is_access_log_bucket(s, w) {
                // Not for the log bucket itself: logging into itself is what AWS advises
                // against (every log object would be logged again).
                return None;
            }
            if l["enabled"] != true {
                let why = if w.spec.spec.s3.values().any(|b| b.access_log_bucket) {
                    "server access logging is off"
                } else {
                    "server access logging is off: the spec has no access-log bucket (mark one `access_log_bucket: true`)"
                };
                return Some(Verdict::fail("access_logging", why));
            }
            let target = l["target_bucket"].as_str().unwrap_or_default();
            let is_log_bucket = w.of_kind("s3").any(|b| {
                b.state["name"] == target && is_access_log_bucket(b, w) && b.region == s.region
            });
            Some(Verdict::when(
                is_log_bucket,
                "access_logging",
                format!(
                    "logs go to {target}, which is not the spec's access-log bucket in {}",
                    s.region
                ),
            ))
        },
    },
    Rule {
        id: "NOVA-S3-006",
        title: "S3 bucket replicates to the DR region (when the spec has `dr:`)",
        severity: Severity::Warning,
        hipaa: &[BACKUP, DISASTER],
        aws_config: Some("s3-bucket-replication-enabled"),
        prowler: Some("s3_bucket_cross_region_replication"),
        cdk_nag: Some("HIPAA.Security-S3BucketReplicationEnabled"),
        kinds: &["s3"],
        cross: true,
        reads: &["replication"],
        help: "List the bucket in `dr.replicate.s3` (or waive this rule for buckets that hold no PHI).",
        check: |s, w| {
            let dr = w.spec.spec.dr.as_ref()?;
            // A DR twin is the replication's destination, not a bucket to replicate.
            if is_access_log_bucket(s, w) || crate::resources::dr::is_twin(&s.address) {
                return None;
            }
            let listed = dr.replicate.s3.iter().any(|n| s.address == format!("s3.{n}"));
            Some(match (w.mode, s.state.get("replication")) {
                (Mode::Live, Some(rep)) => Verdict::when(
                    rules_of(rep).iter().any(|r| r["status"] == "Enabled"),
                    "dr.replicate.s3",
                    "no enabled replication rule to the DR region",
                ),
                _ => Verdict::when(listed, "dr.replicate.s3", "the bucket is not in dr.replicate.s3"),
            })
        },
    },
    Rule {
        id: "NOVA-S3-007",
        title: "S3 Object Ownership is BucketOwnerEnforced (ACLs disabled)",
        severity: Severity::Error,
        hipaa: &[ACCESS, INFO_ACCESS],
        aws_config: Some("s3-bucket-acl-prohibited"),
        prowler: Some("s3_bucket_acl_prohibited"),
        cdk_nag: None,
        kinds: &["s3"],
        cross: false,
        reads: &["object_ownership"],
        help: "Set `object_ownership: BucketOwnerEnforced` (the default).",
        check: |s, _| {
            let o = s.state["object_ownership"].as_str().unwrap_or("unset");
            Some(Verdict::when(o == "BucketOwnerEnforced", "object_ownership", format!("object ownership is {o}")))
        },
    },
    Rule {
        id: "NOVA-S3-008",
        title: "The access-log bucket admits writes only from S3 log delivery of this account",
        severity: Severity::Error,
        hipaa: &[AUDIT, INTEGRITY],
        aws_config: None,
        prowler: None,
        cdk_nag: None,
        kinds: &["s3"],
        cross: false,
        reads: &["policy"],
        help: "novactl writes this statement on the access-log bucket; another Allow there (or a missing aws:SourceAccount) lets others write into the audit trail.",
        check: |s, w| {
            if !is_access_log_bucket(s, w) {
                return None;
            }
            let stmts = statements(&s.state["policy"]);
            let others = stmts
                .iter()
                .filter(|st| st["Effect"] == "Allow" && !principal_is(st, crate::resources::s3::LOG_DELIVERY))
                .count();
            let delivery_guarded = stmts.iter().any(|st| {
                st["Effect"] == "Allow"
                    && principal_is(st, crate::resources::s3::LOG_DELIVERY)
                    && condition_has(st, "aws:SourceAccount")
            });
            Some(if others > 0 {
                Verdict::fail("", format!("{others} other Allow statement(s) in the policy"))
            } else {
                Verdict::when(delivery_guarded, "", "no log-delivery statement limited by aws:SourceAccount")
            })
        },
    },
    Rule {
        id: "NOVA-S3-009",
        title: "The access-log bucket expires logs by lifecycle",
        severity: Severity::Warning,
        hipaa: &[RETENTION],
        aws_config: Some("s3-lifecycle-policy-check"),
        prowler: Some("s3_bucket_lifecycle_enabled"),
        cdk_nag: None,
        kinds: &["s3"],
        cross: false,
        reads: &["lifecycle"],
        help: "Give the access-log bucket a `lifecycle` rule with `expire_days` (six years, 2192, keeps HIPAA's documentation period).",
        check: |s, w| {
            if !is_access_log_bucket(s, w) {
                return None;
            }
            let ok = s.state["lifecycle"]
                .as_array()
                .is_some_and(|l| l.iter().any(|r| r["enabled"] == true && r["expire_days"].is_number()));
            Some(Verdict::when(ok, "lifecycle", "no enabled lifecycle rule expires the logs"))
        },
    },
    Rule {
        id: "NOVA-IAM-001",
        title: "IAM inline policies grant no administrator access (`*` on `*`)",
        severity: Severity::Error,
        hipaa: &[ACCESS, INFO_ACCESS],
        aws_config: Some("iam-policy-no-statements-with-admin-access"),
        prowler: Some("iam_inline_policy_no_administrative_privileges"),
        cdk_nag: Some("HIPAA.Security-IAMPolicyNoStatementsWithAdminAccess"),
        kinds: &["iam"],
        cross: false,
        reads: &["inline_policies"],
        help: "Name the actions and resources the role needs.",
        check: |s, _| Some(policy_statements_check(s, |a, r| (a == "*" || a == "*:*") && r.iter().any(|r| r == "*"), "allows every action on every resource")),
    },
    Rule {
        id: "NOVA-IAM-002",
        title: "IAM inline policies grant no service-wide actions (`svc:*`)",
        severity: Severity::Warning,
        hipaa: &[ACCESS, INFO_ACCESS],
        aws_config: Some("iam-policy-no-statements-with-full-access"),
        prowler: Some("iam_inline_policy_no_full_access_to_kms"),
        cdk_nag: Some("HIPAA.Security-IAMPolicyNoStatementsWithFullAccess"),
        kinds: &["iam"],
        cross: false,
        reads: &["inline_policies"],
        help: "Replace `service:*` with the actions the role uses.",
        check: |s, _| Some(policy_statements_check(s, |a, _| a.ends_with(":*") && a != "*:*", "allows a whole service")),
    },
    Rule {
        id: "NOVA-IAM-003",
        title: "Service trust policies carry aws:SourceAccount or aws:SourceArn (confused deputy)",
        severity: Severity::Error,
        hipaa: &[ACCESS],
        aws_config: None,
        prowler: Some("iam_role_cross_service_confused_deputy_prevention"),
        cdk_nag: None,
        kinds: &["iam", "log_group"],
        cross: false,
        reads: &["trust_policy", "role.trust_policy"],
        help: "Keep `source_account: true` (the default) on the role; add `source_arn` to narrow it to resources.",
        check: |s, _| {
            let (policy, key) = if s.kind == "log_group" {
                (&s.state["role"]["trust_policy"], "")
            } else {
                (&s.state["trust_policy"], "source_account")
            };
            let open = statements(policy)
                .iter()
                .filter(|st| st["Effect"] == "Allow" && st["Principal"].get("Service").is_some())
                .filter(|st| !condition_has(st, "aws:SourceAccount") && !condition_has(st, "aws:SourceArn"))
                .count();
            Some(Verdict::when(open == 0, key, "a service may assume the role on behalf of any account"))
        },
    },
    Rule {
        id: "NOVA-SM-001",
        title: "SageMaker endpoint config encrypts its storage volume with a KMS key",
        severity: Severity::Warning,
        hipaa: &[ENCRYPTION],
        aws_config: Some("sagemaker-endpoint-configuration-kms-key-configured"),
        prowler: None,
        cdk_nag: Some("HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured"),
        kinds: &["sagemaker_endpoint"],
        cross: false,
        reads: &["kms_key_arn"],
        help: "Set `kms_key` on the endpoint.",
        check: |s, _| Some(Verdict::when(non_empty(&s.state["kms_key_arn"]), "kms_key", "the endpoint config names no KMS key")),
    },
    Rule {
        id: "NOVA-SM-002",
        title: "SageMaker data capture is encrypted with its own KMS key",
        severity: Severity::Warning,
        hipaa: &[ENCRYPTION],
        aws_config: None,
        prowler: None,
        cdk_nag: None,
        kinds: &["sagemaker_endpoint"],
        cross: false,
        reads: &["data_capture.enabled", "data_capture.kms_key_arn"],
        help: "Data capture encrypts with `data_capture.kms_key`, by default the capture bucket's key; a bucket without one needs it set.",
        check: |s, _| {
            if s.state["data_capture"]["enabled"] != true {
                return None;
            }
            Some(Verdict::when(
                non_empty(&s.state["data_capture"]["kms_key_arn"]),
                "data_capture.kms_key",
                "captured requests and responses rely on the bucket default, not a KMS key of their own",
            ))
        },
    },
    Rule {
        id: "NOVA-SM-003",
        title: "SageMaker model runs with network isolation",
        severity: Severity::Error,
        hipaa: &[ACCESS, TRANSMISSION],
        aws_config: Some("sagemaker-model-isolation-enabled"),
        prowler: Some("sagemaker_models_network_isolation_enabled"),
        cdk_nag: None,
        kinds: &["sagemaker_model"],
        cross: false,
        reads: &["network_isolation"],
        help: "Set `network_isolation: true` (the default).",
        check: |s, _| Some(Verdict::when(s.state["network_isolation"] == true, "network_isolation", "network isolation is off")),
    },
    Rule {
        id: "NOVA-SM-004",
        title: "SageMaker production variant has at least two instances",
        severity: Severity::Warning,
        hipaa: &["§164.308(a)(7)(ii)(C)"],
        aws_config: Some("sagemaker-endpoint-config-prod-instance-count"),
        prowler: Some("sagemaker_endpoint_config_prod_variant_instances"),
        cdk_nag: None,
        kinds: &["sagemaker_endpoint"],
        cross: false,
        reads: &["instance_count"],
        help: "Set `instance_count: 2` or more, or waive the rule for a pilot (`check.waive`).",
        check: |s, _| {
            let n = s.state["instance_count"].as_i64().unwrap_or(0);
            Some(Verdict::when(n >= 2, "instance_count", format!("{n} instance(s): one failure stops inference")))
        },
    },
    Rule {
        id: "NOVA-SM-005",
        title: "SageMaker model runs in a VPC",
        severity: Severity::Warning,
        hipaa: &[ACCESS, TRANSMISSION],
        aws_config: Some("sagemaker-model-in-vpc"),
        prowler: Some("sagemaker_models_vpc_settings_configured"),
        cdk_nag: None,
        kinds: &["sagemaker_model"],
        cross: false,
        reads: &["vpc"],
        help: "Give the model a `vpc` with subnets and security groups.",
        check: |s, _| {
            let ok = s.state["vpc"]["subnets"].as_array().is_some_and(|a| !a.is_empty());
            Some(Verdict::when(ok, "vpc", "the model has no VPC configuration"))
        },
    },
    Rule {
        id: "NOVA-NET-001",
        title: "Security group admits no ingress from the internet (0.0.0.0/0 or ::/0)",
        severity: Severity::Error,
        hipaa: &[ACCESS, TRANSMISSION],
        aws_config: Some("vpc-sg-open-only-to-authorized-ports"),
        prowler: Some("ec2_securitygroup_allow_ingress_from_internet_to_any_port"),
        cdk_nag: Some("AwsSolutions-EC23"),
        kinds: &["security_group", "network"],
        cross: false,
        reads: &["ingress", "endpoint_security_group"],
        help: "Name the sources (a security group of the spec or a private CIDR), or waive the rule for the group's address. On a network it is the endpoint security group, which admits 443 from the VPC only: a finding in live mode is drift that apply repairs.",
        check: |s, _| net::no_open_ingress(s),
    },
    Rule {
        id: "NOVA-NET-002",
        title: "VPC flow logs are on and capture ALL traffic",
        severity: Severity::Error,
        hipaa: &[AUDIT, ACTIVITY_REVIEW],
        aws_config: Some("vpc-flow-logs-enabled"),
        prowler: Some("vpc_flow_logs_enabled"),
        cdk_nag: Some("HIPAA.Security-VPCFlowLogsEnabled"),
        kinds: &["network"],
        cross: false,
        reads: &["flow_logs.traffic_type", "flow_logs.log_group"],
        help: "Give the network `flow_logs: { kms_key: <key> }` (CIS AWS Foundations 3.7: flow logs in every VPC); apply turns flow logs back on when they were deleted out of band.",
        check: |s, _| net::flow_logs_on(s),
    },
    Rule {
        id: "NOVA-NET-003",
        title: "VPC flow logs go to a log group encrypted with a customer KMS key",
        severity: Severity::Error,
        hipaa: &[ENCRYPTION, AUDIT],
        aws_config: Some("cloudwatch-log-group-encrypted"),
        prowler: Some("cloudwatch_log_group_kms_encryption_enabled"),
        cdk_nag: Some("HIPAA.Security-CloudWatchLogGroupEncrypted"),
        kinds: &["network"],
        cross: false,
        reads: &["flow_logs.kms_key_id", "flow_logs.retention_days"],
        help: "Flow logs hold the addresses PHI moves between: set `flow_logs.kms_key` to a key of the spec; apply re-associates the key and re-creates a deleted log group.",
        check: |s, _| net::flow_logs_encrypted(s),
    },
    Rule {
        id: "NOVA-NET-004",
        title: "Neither the private subnets' network ACL nor the VPC's default one admits internet ingress to every port or to an admin port (22, 3389)",
        severity: Severity::Error,
        hipaa: &[ACCESS, TRANSMISSION],
        aws_config: Some("nacl-no-unrestricted-ssh-rdp"),
        prowler: Some("ec2_networkacl_allow_ingress_any_port"),
        cdk_nag: None,
        kinds: &["network"],
        cross: false,
        reads: &["network_acl", "default_network_acl", "subnets"],
        help: "novactl's NACL admits the VPC's CIDR only and denies the rest explicitly, and the VPC's default NACL (no subnet uses it) keeps only AWS's fixed `*` denies (CIS AWS Foundations 5.1); a finding in live mode is an entry or association changed out of band, which apply repairs.",
        check: |s, _| net::nacl_closed(s),
    },
    Rule {
        id: "NOVA-NET-005",
        title: "Private subnets route nowhere but the VPC and its endpoints (no internet gateway, NAT, peering)",
        severity: Severity::Error,
        hipaa: &[ACCESS, TRANSMISSION],
        aws_config: Some("no-unrestricted-route-to-igw"),
        prowler: None,
        cdk_nag: None,
        kinds: &["network"],
        cross: false,
        reads: &["subnets"],
        help: "Each private subnet has its own route table with the local route and the S3 gateway endpoint's only; a route added out of band (to an internet gateway, a NAT...) is drift that apply deletes.",
        check: |s, _| net::private_routes(s),
    },
    Rule {
        id: "NOVA-NET-006",
        title: "Private subnets assign no public IP on launch",
        severity: Severity::Error,
        hipaa: &[ACCESS],
        aws_config: Some("subnet-auto-assign-public-ip-disabled"),
        prowler: Some("vpc_subnet_no_public_ip_by_default"),
        cdk_nag: None,
        kinds: &["network"],
        cross: false,
        reads: &["subnets"],
        help: "novactl turns `MapPublicIpOnLaunch` off on every private subnet; a finding in live mode is drift that apply repairs.",
        check: |s, _| net::no_public_ip(s),
    },
    Rule {
        id: "NOVA-NET-007",
        title: "The VPC's default security group has no rule",
        severity: Severity::Error,
        hipaa: &[ACCESS],
        aws_config: Some("vpc-default-security-group-closed"),
        prowler: Some("ec2_securitygroup_default_restrict_traffic"),
        cdk_nag: None,
        kinds: &["network"],
        cross: false,
        reads: &["default_security_group"],
        help: "CIS AWS Foundations 5.4: novactl strips every rule of the default group; a rule added out of band is drift that apply revokes.",
        check: |s, _| net::default_sg_closed(s),
    },
    Rule {
        id: "NOVA-NET-008",
        title: "VPC endpoints for the services the stack calls (S3 gateway; interface endpoints with private DNS)",
        severity: Severity::Warning,
        hipaa: &[TRANSMISSION, ACCESS],
        aws_config: Some("service-vpc-endpoint-enabled"),
        prowler: None,
        cdk_nag: None,
        kinds: &["network"],
        cross: true,
        reads: &["endpoints"],
        help: "List in the network's `endpoints`: s3, kms, logs, monitoring, sts always; sagemaker.api and sagemaker.runtime when the spec has SageMaker models or endpoints; ecr.api and ecr.dkr when a model image is in ECR. Interface endpoints get private DNS, so the services' usual names resolve inside the VPC.",
        check: net::endpoints_present,
    },
    Rule {
        id: "NOVA-SM-006",
        title: "The data-capture bucket is encrypted with a customer KMS key",
        severity: Severity::Error,
        hipaa: &[ENCRYPTION],
        aws_config: None,
        prowler: None,
        cdk_nag: None,
        kinds: &["sagemaker_endpoint"],
        cross: true,
        reads: &["data_capture.destination"],
        help: "Point `data_capture.bucket` at a bucket with a `kms_key` (not the SSE-S3 access-log bucket).",
        check: |s, w| {
            let dest = s.state["data_capture"]["destination"].as_str()?;
            let bucket = dest.trim_start_matches("s3://").split('/').next().unwrap_or_default();
            let b = w.of_kind("s3").find(|b| b.state["name"] == bucket)?;
            let enc = &b.state["encryption"];
            let key = enc["kms_key_arn"].as_str().unwrap_or_default();
            Some(Verdict::when(
                enc["algorithm"] == "aws:kms" && !key.is_empty() && !key.contains("alias/aws/"),
                "data_capture.bucket",
                format!("captured PHI lands in {bucket}, which is not encrypted with a customer key"),
            ))
        },
    },
    Rule {
        id: "NOVA-SNS-001",
        title: "SNS topic is encrypted with KMS",
        severity: Severity::Error,
        hipaa: &[ENCRYPTION],
        aws_config: Some("sns-encrypted-kms"),
        prowler: Some("sns_topics_kms_encryption_at_rest_enabled"),
        cdk_nag: None,
        kinds: &["sns"],
        cross: false,
        reads: &["kms_master_key_id"],
        help: "Set `kms_key` on the topic.",
        check: |s, _| Some(Verdict::when(non_empty(&s.state["kms_master_key_id"]), "kms_key", "the topic is not encrypted")),
    },
    Rule {
        id: "NOVA-CW-001",
        title: "CloudWatch alarm notifies on ALARM and on INSUFFICIENT_DATA",
        severity: Severity::Warning,
        hipaa: &[INCIDENTS, ACTIVITY_REVIEW],
        aws_config: Some("cloudwatch-alarm-action-check"),
        prowler: Some("cloudwatch_alarm_actions_alarm_state_configured"),
        cdk_nag: Some("HIPAA.Security-CloudWatchAlarmAction"),
        kinds: &["cloudwatch_alarm"],
        cross: false,
        reads: &["actions", "insufficient_data_actions"],
        help: "Give the alarm `actions` (an `sns.*` topic); `insufficient_data_actions` default to them. A CIS alarm takes its trail's `security_alarms.topic`.",
        check: |s, _| {
            let key = if s.spec_path.starts_with("cloudtrail.") { "topic" } else { "actions" };
            let missing: Vec<&str> = ["actions", "insufficient_data_actions"]
                .into_iter()
                .filter(|k| s.state[*k].as_array().is_none_or(|a| a.is_empty()))
                .collect();
            Some(Verdict::when(missing.is_empty(), key, format!("no {}", missing.join(", no "))))
        },
    },
    Rule {
        id: "NOVA-CW-002",
        title: "The topic an alarm notifies is encrypted",
        severity: Severity::Warning,
        hipaa: &[ENCRYPTION],
        aws_config: None,
        prowler: None,
        cdk_nag: None,
        kinds: &["cloudwatch_alarm"],
        cross: true,
        reads: &["actions"],
        help: "Encrypt the topic (`kms_key`); the key policy must let CloudWatch use the key.",
        check: |s, w| {
            let topics: Vec<&Subject> = s.state["actions"]
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|a| w.by_arn(a).filter(|t| t.kind == "sns"))
                .collect();
            if topics.is_empty() {
                return None;
            }
            let plain: Vec<&str> = topics
                .iter()
                .filter(|t| !non_empty(&t.state["kms_master_key_id"]))
                .map(|t| t.address.as_str())
                .collect();
            let key = if s.spec_path.starts_with("cloudtrail.") { "topic" } else { "actions" };
            Some(Verdict::when(plain.is_empty(), key, format!("notifies unencrypted {}", plain.join(", "))))
        },
    },
    Rule {
        id: "NOVA-CW-003",
        title: "CIS 4.1-4.15: the complete CIS monitoring set (a metric filter and an alarm for each of unauthorized API calls, sign-in without MFA, root use, IAM policy, CloudTrail, console authentication failures, KMS key disable/deletion, bucket policy, AWS Config, security group, NACL, network gateway, route table, VPC and Organizations changes) on the trail's log group",
        severity: Severity::Warning,
        hipaa: &[LOGIN_MONITORING, ACTIVITY_REVIEW],
        aws_config: None,
        prowler: Some(CIS_PROWLER_CHECKS),
        cdk_nag: None,
        kinds: &["cloudtrail", "log_group"],
        cross: true,
        reads: CIS_READS,
        help: "Give the trail a `log_group` and `security_alarms.topic` (filters and alarms are on by default).",
        check: cis_set,
    },
    Rule {
        id: "NOVA-CW-004",
        title: "CIS: a metric filter and alarm for console authentication failures",
        severity: Severity::Warning,
        hipaa: &[LOGIN_MONITORING, INCIDENTS],
        aws_config: None,
        prowler: Some("cloudwatch_log_metric_filter_authentication_failures"),
        cdk_nag: None,
        kinds: &["cloudtrail"],
        cross: true,
        reads: &["cloud_watch_logs.log_group_arn"],
        help: "Give the trail a `log_group` and `security_alarms.topic` (filters and alarms are on by default).",
        check: |s, w| Some(cis_filter(s, w, &["ConsoleLogin", "Failed authentication"])),
    },
    Rule {
        id: "NOVA-LOG-001",
        title: "CloudWatch Logs group is encrypted with KMS",
        severity: Severity::Error,
        hipaa: &[ENCRYPTION, AUDIT],
        aws_config: Some("cloudwatch-log-group-encrypted"),
        prowler: Some("cloudwatch_log_group_kms_encryption_enabled"),
        cdk_nag: Some("HIPAA.Security-CloudWatchLogGroupEncrypted"),
        kinds: &["log_group"],
        cross: false,
        reads: &["kms_key_id"],
        help: "Set the trail's `kms_key`; its log group is encrypted with it.",
        check: |s, _| Some(Verdict::when(non_empty(&s.state["kms_key_id"]), "kms_key", "the log group is not encrypted with KMS")),
    },
    Rule {
        id: "NOVA-LOG-002",
        title: "CloudWatch Logs retention is at least the spec's (and the minimum)",
        severity: Severity::Warning,
        hipaa: &[AUDIT, RETENTION],
        aws_config: Some("cw-loggroup-retention-period-check"),
        prowler: Some("cloudwatch_log_group_retention_policy_specific_days_enabled"),
        cdk_nag: Some("HIPAA.Security-CloudWatchLogGroupRetentionPeriod"),
        kinds: &["log_group"],
        cross: false,
        reads: &["retention_days"],
        help: "Set `log_retention_days` (2192 keeps six years); `check.min_log_retention_days` sets the minimum (default 365).",
        check: |s, w| {
            let days = s.state["retention_days"].as_i64().unwrap_or(-1);
            let want = s.desired["retention_days"].as_i64().unwrap_or(0);
            let min = i64::from(
                w.spec.spec.check.as_ref().and_then(|c| c.min_log_retention_days).unwrap_or(365),
            );
            // 0: never expire.
            let never = days == 0;
            Some(if days < 0 {
                Verdict::fail("log_retention_days", "retention unknown")
            } else if !never && days < min {
                Verdict::fail("log_retention_days", format!("{days} days is below the minimum of {min}"))
            } else if want == 0 && !never {
                Verdict::fail("log_retention_days", format!("{days} days; the spec says never expire"))
            } else if !never && days < want {
                Verdict::fail("log_retention_days", format!("{days} days; the spec says {want}"))
            } else {
                Verdict::Pass
            })
        },
    },
    Rule {
        id: "NOVA-CT-001",
        title: "CloudTrail trail is logging",
        severity: Severity::Error,
        hipaa: &[AUDIT, ACTIVITY_REVIEW],
        aws_config: Some("cloudtrail-enabled"),
        prowler: Some("cloudtrail_multi_region_enabled_logging_management_events"),
        cdk_nag: None,
        kinds: &["cloudtrail"],
        cross: false,
        reads: &["logging"],
        help: "novactl always starts logging; a stopped trail is drift that apply repairs.",
        check: |s, _| Some(Verdict::when(s.state["logging"] == true, "", "the trail is not logging")),
    },
    Rule {
        id: "NOVA-CT-002",
        title: "CloudTrail trail is multi-region",
        severity: Severity::Error,
        hipaa: &[AUDIT],
        aws_config: Some("multi-region-cloudtrail-enabled"),
        prowler: Some("cloudtrail_multi_region_enabled"),
        cdk_nag: None,
        kinds: &["cloudtrail"],
        cross: false,
        reads: &["multi_region"],
        help: "Set `multi_region: true` (the default).",
        check: |s, _| Some(Verdict::when(s.state["multi_region"] == true, "multi_region", "the trail records one region only")),
    },
    Rule {
        id: "NOVA-CT-003",
        title: "CloudTrail log file validation is enabled",
        severity: Severity::Error,
        hipaa: &[INTEGRITY, "§164.312(c)(2)"],
        aws_config: Some("cloud-trail-log-file-validation-enabled"),
        prowler: Some("cloudtrail_log_file_validation_enabled"),
        cdk_nag: Some("HIPAA.Security-CloudTrailLogFileValidationEnabled"),
        kinds: &["cloudtrail"],
        cross: false,
        reads: &["log_file_validation"],
        help: "Set `log_file_validation: true` (the default).",
        check: |s, _| Some(Verdict::when(s.state["log_file_validation"] == true, "log_file_validation", "log file validation is off")),
    },
    Rule {
        id: "NOVA-CT-004",
        title: "CloudTrail logs are encrypted with KMS",
        severity: Severity::Error,
        hipaa: &[ENCRYPTION, AUDIT],
        aws_config: Some("cloud-trail-encryption-enabled"),
        prowler: Some("cloudtrail_kms_encryption_enabled"),
        cdk_nag: Some("HIPAA.Security-CloudTrailEncryptionEnabled"),
        kinds: &["cloudtrail"],
        cross: false,
        reads: &["kms_key_id"],
        help: "Set `kms_key` on the trail.",
        check: |s, _| Some(Verdict::when(non_empty(&s.state["kms_key_id"]), "kms_key", "the trail's logs are not encrypted with KMS")),
    },
    Rule {
        id: "NOVA-CT-005",
        title: "CloudTrail delivers to CloudWatch Logs",
        severity: Severity::Warning,
        hipaa: &[AUDIT, ACTIVITY_REVIEW],
        aws_config: Some("cloud-trail-cloud-watch-logs-enabled"),
        prowler: Some("cloudtrail_cloudwatch_logging_enabled"),
        cdk_nag: Some("HIPAA.Security-CloudTrailCloudWatchLogsEnabled"),
        kinds: &["cloudtrail"],
        cross: false,
        reads: &["cloud_watch_logs.log_group_arn"],
        help: "Set `log_group` on the trail.",
        check: |s, _| Some(Verdict::when(non_empty(&s.state["cloud_watch_logs"]["log_group_arn"]), "log_group", "the trail has no CloudWatch Logs group")),
    },
    Rule {
        id: "NOVA-CT-006",
        title: "CloudTrail records S3 data events",
        severity: Severity::Warning,
        hipaa: &[AUDIT, ACTIVITY_REVIEW],
        aws_config: Some("cloudtrail-s3-dataevents-enabled"),
        prowler: Some("cloudtrail_s3_dataevents_read_enabled"),
        cdk_nag: None,
        kinds: &["cloudtrail"],
        cross: false,
        reads: &["event_selectors"],
        help: "Add `s3` to the trail's `data_events`.",
        check: |s, _| {
            let on = s.state["event_selectors"].as_array().is_some_and(|sel| {
                sel.iter().any(|x| {
                    x["data_resources"]
                        .as_array()
                        .is_some_and(|d| d.iter().any(|d| d["type"] == "AWS::S3::Object"))
                })
            });
            Some(Verdict::when(on, "data_events", "S3 object-level (data) events are not recorded"))
        },
    },
    Rule {
        id: "NOVA-DR-001",
        title: "DR replicas are encrypted with a customer-managed key",
        severity: Severity::Error,
        hipaa: &[ENCRYPTION, DISASTER],
        aws_config: None,
        prowler: None,
        cdk_nag: None,
        kinds: &["s3"],
        cross: true,
        reads: &["replication"],
        help: "List the bucket's `kms_key` in `dr.replicate.kms`: its DR replica key then encrypts the twin.",
        check: |s, w| {
            let (dr, name) = replicated_bucket(s, w)?;
            if let (Mode::Live, Some(rep)) = (w.mode, s.state.get("replication")) {
                let keys: Vec<String> = rules_of(rep)
                    .iter()
                    .map(|r| r["replica_kms_key_id"].as_str().unwrap_or_default().to_string())
                    .collect();
                return Some(Verdict::when(
                    !keys.is_empty() && keys.iter().all(|k| k.starts_with("arn:aws:kms:") && !k.contains("alias/aws/")),
                    "dr.replicate.kms",
                    "the replication rule does not re-encrypt with a customer key",
                ));
            }
            let key = &w.spec.spec.s3.get(name)?.kms_key;
            Some(Verdict::when(
                dr.replicate.kms.contains(key),
                "dr.replicate.kms",
                format!("the bucket's key `{key}` has no DR replica (not in dr.replicate.kms)"),
            ))
        },
    },
    Rule {
        id: "NOVA-DR-002",
        title: "DR replication has Replication Time Control on",
        severity: Severity::Warning,
        hipaa: &[DISASTER],
        aws_config: None,
        prowler: None,
        cdk_nag: None,
        kinds: &["s3"],
        cross: true,
        reads: &["replication"],
        help: "novactl's DR replication always enables RTC (15 minutes); a finding in live mode is drift that apply repairs.",
        check: |s, w| {
            replicated_bucket(s, w)?;
            match (w.mode, s.state.get("replication")) {
                (Mode::Live, Some(rep)) => Some(Verdict::when(
                    !rules_of(rep).is_empty() && rules_of(rep).iter().all(|r| r["replication_time_minutes"].is_number()),
                    "dr.replicate.s3",
                    "replication without Replication Time Control: no 15-minute objective",
                )),
                _ => Some(Verdict::Pass),
            }
        },
    },
];

fn non_empty(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

/// The DR section and the bucket's logical name, when `s` is a primary bucket the spec
/// replicates (`dr.replicate.s3`); `None` otherwise (the DR rules do not apply).
fn replicated_bucket<'w>(
    s: &Subject,
    w: &'w World<'_>,
) -> Option<(&'w crate::spec::model::Dr, &'w str)> {
    let dr = w.spec.spec.dr.as_ref()?;
    let name = s.address.strip_prefix("s3.")?;
    let name = dr.replicate.s3.iter().find(|n| *n == name)?;
    Some((dr, name.as_str()))
}

/// Is `s` an access-log bucket (the primary region's or its DR twin)?
fn is_access_log_bucket(s: &Subject, w: &World<'_>) -> bool {
    crate::address::Address::parse(&s.address)
        .filter(|a| a.kind() == "s3")
        .and_then(|a| w.spec.spec.s3.get(a.name()))
        .is_some_and(|b| b.access_log_bucket)
}

fn rules_of(rep: &Value) -> Vec<&Value> {
    rep["rules"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn statements(policy: &Value) -> Vec<&Value> {
    match &policy["Statement"] {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![&policy["Statement"]],
        _ => Vec::new(),
    }
}

/// A string-or-list as strings.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn principal_is(st: &Value, service: &str) -> bool {
    strings(&st["Principal"]["Service"])
        .iter()
        .any(|s| s == service)
}

fn condition_has(st: &Value, key: &str) -> bool {
    st["Condition"]
        .as_object()
        .is_some_and(|ops| ops.values().any(|kv| kv.get(key).is_some()))
}

fn tls_only(s: &Subject) -> Verdict {
    let arn = format!(
        "arn:aws:s3:::{}",
        s.state["name"].as_str().unwrap_or_default()
    );
    let mut list_form = false;
    for st in statements(&s.state["policy"]) {
        let everyone =
            st["Principal"] == "*" || strings(&st["Principal"]["AWS"]).iter().any(|p| p == "*");
        let all_s3 = strings(&st["Action"])
            .iter()
            .any(|a| a == "s3:*" || a == "*");
        let res = strings(&st["Resource"]);
        let covers = res.contains(&arn) && res.contains(&format!("{arn}/*"));
        if st["Effect"] != "Deny" || !everyone || !all_s3 || !covers {
            continue;
        }
        match &st["Condition"]["Bool"]["aws:SecureTransport"] {
            Value::String(v) if v == "false" => return Verdict::Pass,
            Value::Array(a) if a.len() == 1 && a[0] == "false" => list_form = true,
            _ => {}
        }
    }
    if list_form {
        Verdict::fail(
            "",
            "the TLS-only statement writes [\"false\"] (a list); scanners such as Prowler read only the plain \"false\"",
        )
    } else {
        Verdict::fail(
            "",
            "no statement denies requests without TLS (aws:SecureTransport)",
        )
    }
}

/// Every Allow statement of every inline policy, with `bad(action, resources)`.
fn policy_statements_check(s: &Subject, bad: fn(&str, &[String]) -> bool, what: &str) -> Verdict {
    let Some(policies) = s.state["inline_policies"].as_object() else {
        return Verdict::Pass;
    };
    for (name, doc) in policies {
        for st in statements(doc) {
            if st["Effect"] != "Allow" {
                continue;
            }
            let res = strings(&st["Resource"]);
            if let Some(a) = strings(&st["Action"]).iter().find(|a| bad(a, &res)) {
                return Verdict::fail(
                    &format!("policies.{name}"),
                    format!("inline policy `{name}` {what} (`{a}`)"),
                );
            }
        }
    }
    Verdict::Pass
}

/// The Prowler checks the CIS monitoring set satisfies (NOVA-CW-003).
const CIS_PROWLER_CHECKS: &str = "cloudwatch_log_metric_filter_unauthorized_api_calls, \
    cloudwatch_log_metric_filter_sign_in_without_mfa, cloudwatch_log_metric_filter_root_usage, \
    cloudwatch_log_metric_filter_policy_changes, \
    cloudwatch_log_metric_filter_and_alarm_for_cloudtrail_configuration_changes_enabled, \
    cloudwatch_log_metric_filter_authentication_failures, \
    cloudwatch_log_metric_filter_disable_or_scheduled_deletion_of_kms_cmk, \
    cloudwatch_log_metric_filter_for_s3_bucket_policy_changes, \
    cloudwatch_log_metric_filter_and_alarm_for_aws_config_configuration_changes_enabled, \
    cloudwatch_log_metric_filter_security_group_changes, \
    cloudwatch_changes_to_network_acls_alarm_configured, \
    cloudwatch_changes_to_network_gateways_alarm_configured, \
    cloudwatch_changes_to_network_route_tables_alarm_configured, \
    cloudwatch_changes_to_vpcs_alarm_configured, \
    cloudwatch_log_metric_filter_aws_organizations_changes";

/// The evidence of NOVA-CW-003: each CIS filter's metric on the trail's log group.
const CIS_READS: &[&str] = &[
    "metric_filters.UnauthorizedAPICalls.metric_name",
    "metric_filters.ConsoleSignInWithoutMFA.metric_name",
    "metric_filters.RootAccountUsage.metric_name",
    "metric_filters.IAMPolicyChanges.metric_name",
    "metric_filters.CloudTrailConfigChanges.metric_name",
    "metric_filters.ConsoleAuthenticationFailures.metric_name",
    "metric_filters.DisableOrDeleteCMK.metric_name",
    "metric_filters.S3BucketPolicyChanges.metric_name",
    "metric_filters.AWSConfigChanges.metric_name",
    "metric_filters.SecurityGroupChanges.metric_name",
    "metric_filters.NACLChanges.metric_name",
    "metric_filters.NetworkGatewayChanges.metric_name",
    "metric_filters.RouteTableChanges.metric_name",
    "metric_filters.VPCChanges.metric_name",
    "metric_filters.OrganizationsChanges.metric_name",
];

/// NOVA-CW-003: on a trail, that it has a log group (the group's own subject then carries the
/// rule); on a trail's log group, that every control of the CIS set has a filter covering it
/// (whatever its name: [`cis::covers`]) with an alarm that notifies someone on its metric.
fn cis_set(s: &Subject, w: &World<'_>) -> Option<Verdict> {
    if s.kind == "cloudtrail" {
        let n = s.address.strip_prefix("cloudtrail.")?;
        let has_group = w
            .subjects
            .iter()
            .any(|g| g.address == format!("log_group.{n}"));
        return (!has_group).then(|| {
            Verdict::fail(
                "log_group",
                "the trail has no CloudWatch Logs group to filter",
            )
        });
    }
    let n = s.address.strip_prefix("log_group.")?;
    let key = format!("cloudtrail.{n}.security_alarms");
    let filters = s.state["metric_filters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let (mut missing, mut silent) = (Vec::new(), Vec::new());
    for c in cis::CIS_FILTERS {
        let found = filters
            .iter()
            .find(|(_, f)| cis::covers(c, f["pattern"].as_str().unwrap_or_default()));
        let Some((fname, f)) = found else {
            missing.push(format!(
                "CIS {} {} (Prowler {})",
                c.cis, c.metric, c.prowler
            ));
            continue;
        };
        let alarmed = w.of_kind("cloudwatch_alarm").any(|a| {
            a.state["metric"] == f["metric_name"]
                && a.state["namespace"] == f["metric_namespace"]
                && a.state["actions"].as_array().is_some_and(|x| !x.is_empty())
        });
        if !alarmed {
            silent.push(format!("CIS {} {fname}", c.cis));
        }
    }
    let mut why = Vec::new();
    if !missing.is_empty() {
        why.push(format!("no metric filter for {}", missing.join(", ")));
    }
    if !silent.is_empty() {
        why.push(format!(
            "no alarm that notifies anyone on {}",
            silent.join(", ")
        ));
    }
    Some(Verdict::when(why.is_empty(), &key, why.join("; ")))
}

/// The trail's log group has a filter whose pattern holds every one of `parts`, and an alarm
/// with actions watches the filter's metric.
fn cis_filter(s: &Subject, w: &World<'_>, parts: &[&str]) -> Verdict {
    let group = s.address.strip_prefix("cloudtrail.").and_then(|n| {
        w.subjects
            .iter()
            .find(|g| g.address == format!("log_group.{n}"))
    });
    let Some(group) = group else {
        return Verdict::fail(
            "log_group",
            "the trail has no CloudWatch Logs group to filter",
        );
    };
    let filters = group.state["metric_filters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let Some((fname, f)) = filters.iter().find(|(_, f)| {
        let p = f["pattern"].as_str().unwrap_or_default();
        parts.iter().all(|x| p.contains(x))
    }) else {
        return Verdict::fail(
            "security_alarms",
            "no such metric filter on the trail's log group",
        );
    };
    let alarmed = w.of_kind("cloudwatch_alarm").any(|a| {
        a.state["metric"] == f["metric_name"]
            && a.state["namespace"] == f["metric_namespace"]
            && a.state["actions"].as_array().is_some_and(|x| !x.is_empty())
    });
    Verdict::when(
        alarmed,
        "security_alarms.topic",
        format!("filter {fname} has no alarm that notifies anyone"),
    )
}

#[cfg(test)]
mod cis_tests {
    /// NOVA-CW-003's evidence names every filter of the catalogue, and its Prowler mapping
    /// every check the catalogue satisfies.
    #[test]
    fn the_cis_rule_reads_and_maps_the_whole_catalogue() {
        let cat = crate::resources::cloudtrail::cis::CIS_FILTERS;
        let reads: Vec<String> = cat
            .iter()
            .map(|c| format!("metric_filters.{}.metric_name", c.metric))
            .collect();
        assert_eq!(super::CIS_READS, reads);
        let mapped: Vec<&str> = super::CIS_PROWLER_CHECKS.split(", ").collect();
        let want: Vec<&str> = cat.iter().map(|c| c.prowler).collect();
        assert_eq!(mapped, want);
    }
}

#[cfg(test)]
mod count_tests {
    /// Every "N rules" in the user's docs is the catalogue's size.
    #[test]
    fn the_docs_state_the_catalogues_size() {
        let n = super::CATALOGUE.len();
        for (file, text) in [
            ("README.md", include_str!("../../README.md")),
            (
                "docs/compliance.md",
                include_str!("../../docs/compliance.md"),
            ),
        ] {
            let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let stated: Vec<usize> = flat
                .match_indices(" rules")
                .filter_map(|(i, _)| flat[..i].rsplit(' ').next()?.parse().ok())
                .collect();
            for k in &stated {
                assert_eq!(*k, n, "{file} says {k} rules; the catalogue has {n}");
            }
            if file == "README.md" {
                assert!(!stated.is_empty(), "README.md no longer states the count");
            }
        }
    }
}
