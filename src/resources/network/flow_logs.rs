//! The flow logs of a `network.*`: the VPC's flow log (ALL traffic), the KMS-encrypted log
//! group it delivers to and the role it delivers with (see the module above).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType};
use serde::Serialize;
use serde_json::{json, Value};

use super::{FlowLogState, Names, NetworkState};
use crate::aws::{ok_if_gone, AwsError};
use crate::permissions::{perm, Implied, Perm};
use crate::resources::kit::ec2::{filter, tag_spec, tolerate};
use crate::resources::kit::log_group::set_retention;
use crate::resources::kit::owned_role::{
    create_owned_role, delete_owned_role, ensure_owned_role, observe_owned_role, owned_role_decl,
};
use crate::resources::kit::refs::{account, kms_arn, role_arn};
use crate::resources::kit::tags::Tags;
use crate::resources::{Ctx, Decl};
use crate::spec::model::Network;
use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

const FLOW_LOG: &str = "arn:aws:ec2:{region}:{account}:vpc-flow-log/*";

/// The calls of this room (the log group's and the role's are the kit's).
pub const PERMISSIONS: &[Perm] = &[
    perm("ec2:DescribeFlowLogs", &["ec2:DescribeFlowLogs"], &["*"]),
    Perm {
        call: "ec2:CreateFlowLogs",
        actions: &["ec2:CreateFlowLogs", "ec2:CreateTags"],
        resources: &["arn:aws:ec2:{region}:{account}:vpc/*", FLOW_LOG],
        implied: &[Implied {
            action: "iam:PassRole",
            resources: &["arn:aws:iam::{account}:role/{out.role_name}"],
            condition: Some((
                "StringEquals",
                "iam:PassedToService",
                "vpc-flow-logs.amazonaws.com",
            )),
        }],
    },
    perm("ec2:DeleteFlowLogs", &["ec2:DeleteFlowLogs"], &[FLOW_LOG]),
];

const ROLE_POLICY: &str = "flow-logs-to-group";

/// The role as the `iam` kind wants it (its desired shape).
#[derive(Serialize)]
struct RoleWant {
    name: String,
    trust_policy: Value,
    inline_policies: BTreeMap<String, Value>,
    description: String,
    tags: Tags,
}

fn group_arn(region: &str, account: &str, group: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}")
}

/// The flow logs the spec asks for; `None` without `flow_logs`.
pub fn desired(
    spec: &LoadedSpec,
    r: &Renderer,
    decl: &Decl,
    n: &Network,
    names: &Names,
    tags: &Tags,
) -> Result<Option<FlowLogState>, SpecError> {
    let Some(f) = &n.flow_logs else {
        return Ok(None);
    };
    let acct = account(r);
    let group = names.log_group();
    let trust = crate::policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": acct},
                "ArnLike": {"aws:SourceArn":
                    format!("arn:aws:ec2:{}:{acct}:vpc-flow-log/*", decl.region)},
            },
        }],
    }));
    let policy = crate::policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "FlowLogsWriteToTheirGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": [
                group_arn(&decl.region, &acct, &group),
                format!("{}:*", group_arn(&decl.region, &acct, &group)),
            ],
        }],
    }));
    let role = RoleWant {
        name: names.role(),
        trust_policy: trust,
        inline_policies: BTreeMap::from([(ROLE_POLICY.to_string(), policy)]),
        description: "VPC flow logs delivery to CloudWatch Logs (novactl)".into(),
        tags: tags.clone(),
    };
    Ok(Some(FlowLogState {
        traffic_type: "ALL".into(),
        log_group: group,
        deliver_role_arn: role_arn(&acct, &names.role()),
        kms_key_id: kms_arn(
            spec,
            r,
            &format!("{}.flow_logs.kms_key", decl.spec_path),
            &f.kms_key,
        )?,
        retention_days: f.retention_days,
        role: serde_json::to_value(&role).unwrap_or_default(),
    }))
}

/// The VPC's flow logs that deliver to the network's group: (id, traffic type, role ARN).
async fn ours(
    cx: &Ctx<'_>,
    region: &str,
    vpc_id: &str,
    names: &Names,
) -> Result<Vec<(String, String, String)>, AwsError> {
    let out = cx
        .clients(region)
        .ec2
        .describe_flow_logs()
        .filter(filter("resource-id", vpc_id))
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeFlowLogs"))?;
    Ok(out
        .flow_logs()
        .iter()
        .filter(|f| f.log_group_name() == Some(names.log_group().as_str()))
        .map(|f| {
            (
                f.flow_log_id().unwrap_or_default().to_string(),
                f.traffic_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                f.deliver_logs_permission_arn()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect())
}

/// The log group's KMS key and retention; `None` when it does not exist.
async fn read_group(
    cx: &Ctx<'_>,
    region: &str,
    group: &str,
) -> Result<Option<(String, i32)>, AwsError> {
    let out = cx
        .clients(region)
        .logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .map_err(AwsError::from_sdk("logs:DescribeLogGroups"))?;
    Ok(out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group))
        .map(|g| {
            (
                g.kms_key_id().unwrap_or_default().to_string(),
                g.retention_in_days().unwrap_or(0),
            )
        }))
}

/// The flow log of ours on the VPC with its group and role; `None` when there is no flow log.
pub async fn read(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    vpc_id: &str,
    names: &Names,
) -> Result<Option<FlowLogState>, AwsError> {
    let rd = owned_role_decl(address, region, &names.role());
    let group_name = names.log_group();
    let (logs, group, role) = tokio::join!(
        ours(cx, region, vpc_id, names),
        read_group(cx, region, &group_name),
        observe_owned_role(cx, &rd),
    );
    let Some((_, traffic, role_arn)) = logs?.into_iter().next() else {
        return Ok(None);
    };
    let (kms, retention) = group?.unwrap_or((String::new(), -1));
    Ok(Some(FlowLogState {
        traffic_type: traffic,
        log_group: names.log_group(),
        deliver_role_arn: role_arn,
        kms_key_id: kms,
        retention_days: retention,
        role: role?
            .state
            .unwrap_or_else(|| Value::Object(Default::default())),
    }))
}

/// Makes the flow logs match `d` (group, role, flow log), or removes them when the spec has
/// none. For a VPC just made (`fresh`) nothing is read first: the group and role are created
/// (one left by an earlier run is found when its create fails, and converged), and a new VPC
/// has no flow log.
pub async fn converge(
    cx: &Ctx<'_>,
    decl: &Decl,
    vpc_id: &str,
    d: &NetworkState,
    names: &Names,
    fresh: bool,
) -> Result<(), AwsError> {
    let region = decl.region.as_str();
    let Some(w) = &d.flow_logs else {
        return delete(cx, region, &decl.address, vpc_id, names).await;
    };
    let logs = &cx.clients(region).logs;
    let made = fresh && create_group(cx, region, w, &d.tags).await?;
    let existing = if made {
        None
    } else {
        read_group(cx, region, &w.log_group).await?
    };
    match existing {
        None => {
            if !made {
                create_group(cx, region, w, &d.tags).await?;
            }
            set_retention(cx, region, &w.log_group, w.retention_days).await?;
        }
        Some((kms, retention)) => {
            if kms != w.kms_key_id {
                logs.associate_kms_key()
                    .log_group_name(&w.log_group)
                    .kms_key_id(&w.kms_key_id)
                    .send()
                    .await
                    .map_err(AwsError::from_sdk("logs:AssociateKmsKey"))?;
            }
            if retention != w.retention_days {
                set_retention(cx, region, &w.log_group, w.retention_days).await?;
            }
        }
    }
    let rd = owned_role_decl(&decl.address, region, &names.role());
    if fresh {
        create_owned_role(cx, &rd, &w.role).await?;
    } else {
        ensure_owned_role(cx, &rd, &w.role).await?;
    }
    let ec2 = &cx.clients(region).ec2;
    let live = if fresh {
        Vec::new()
    } else {
        ours(cx, region, vpc_id, names).await?
    };
    let (good, bad): (Vec<_>, Vec<_>) = live
        .into_iter()
        .partition(|(_, t, r)| *t == w.traffic_type && *r == w.deliver_role_arn);
    if !bad.is_empty() {
        ec2.delete_flow_logs()
            .set_flow_log_ids(Some(bad.into_iter().map(|b| b.0).collect()))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:DeleteFlowLogs"))?;
    }
    if good.is_empty() {
        ec2.create_flow_logs()
            .resource_type(FlowLogsResourceType::Vpc)
            .resource_ids(vpc_id)
            .traffic_type(TrafficType::All)
            .log_destination_type(LogDestinationType::CloudWatchLogs)
            .log_group_name(&w.log_group)
            .deliver_logs_permission_arn(&w.deliver_role_arn)
            .tag_specifications(tag_spec(
                ResourceType::VpcFlowLog,
                &super::part_tags(&d.tags, &names.base, "flow-log"),
            ))
            .send()
            .await
            // A resent create whose first answer was lost: the flow log is there, with this
            // configuration and destination (what the code says).
            .map_or_else(
                |e| tolerate(e, "ec2:CreateFlowLogs", "FlowLogAlreadyExists"),
                |_| Ok(()),
            )?;
    }
    Ok(())
}

/// Creates the flow logs' group with its key and tags; `false` when it exists already.
async fn create_group(
    cx: &Ctx<'_>,
    region: &str,
    w: &FlowLogState,
    tags: &Tags,
) -> Result<bool, AwsError> {
    let mut req = cx
        .clients(region)
        .logs
        .create_log_group()
        .log_group_name(&w.log_group)
        .kms_key_id(&w.kms_key_id);
    for (k, v) in tags {
        req = req.tags(k, v);
    }
    match req.send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_already_exists_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(AwsError::from_err("logs:CreateLogGroup", e)),
    }
}

/// Deletes the flow logs, their log group and role.
pub async fn delete(
    cx: &Ctx<'_>,
    region: &str,
    address: &str,
    vpc_id: &str,
    names: &Names,
) -> Result<(), AwsError> {
    let ids: Vec<String> = ours(cx, region, vpc_id, names)
        .await?
        .into_iter()
        .map(|f| f.0)
        .collect();
    if !ids.is_empty() {
        cx.clients(region)
            .ec2
            .delete_flow_logs()
            .set_flow_log_ids(Some(ids))
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:DeleteFlowLogs"))?;
    }
    ok_if_gone(
        "logs:DeleteLogGroup",
        cx.clients(region)
            .logs
            .delete_log_group()
            .log_group_name(names.log_group())
            .send()
            .await,
        |se| se.is_resource_not_found_exception(),
    )?;
    delete_owned_role(cx, &owned_role_decl(address, region, &names.role())).await
}
