//! `novactl import iam ROLE`: a live role as a spec entry. The trust policy becomes `trust`
//! (service principals), `source_account` and `source_arn` when it is of the shape novactl
//! writes (else the import is refused: the spec could not reproduce it); each inline policy
//! becomes a template file (`--write DIR`). Managed policies attached to the role are not
//! managed by the spec: they are named in a comment and stay attached.

use serde_json::{json, Map, Value};

use super::{attached_policies, get_role, read_role, trust_policy, RoleState, Step};
use crate::aws::AwsError;
use crate::resources::kit::import::{self, ImportRequest, Imported};
use crate::resources::{from_desired, tags_json, Ctx};

pub(super) async fn import_role(
    cx: &Ctx<'_>,
    req: &ImportRequest<'_>,
) -> Result<Imported, AwsError> {
    let id = req.id.rsplit('/').next().unwrap_or(req.id);
    let role = get_role(cx, req.region, id)
        .await?
        .ok_or_else(|| import::not_found("IAM role", req.id))?;
    let o = read_role(cx, req.region, "iam.imported", &role, None, None)
        .await?
        .and_then(|o| o.state)
        .ok_or_else(|| import::not_found("IAM role", req.id))?;
    let r: RoleState = from_desired("iam.imported", &o)?;
    let name = import::logical_name(&r.name);
    let mut entry = Map::new();
    entry.insert("name".into(), json!(r.name));
    if let Some(d) = r.description.as_deref().filter(|d| !d.is_empty()) {
        entry.insert("description".into(), json!(d));
    }
    let trust = spec_trust(&r.trust_policy, cx.account_id).ok_or_else(|| {
        AwsError::local(
            "novactl:import",
            "TrustNotExpressible",
            format!(
                "role {}'s trust policy is not one the spec can describe (one statement \
                 allowing sts:AssumeRole to service principals, optionally conditioned on \
                 aws:SourceAccount = this account and aws:SourceArn): {}",
                r.name, r.trust_policy
            ),
        )
    })?;
    entry.insert("trust".into(), json!(trust.services));
    if !trust.source_account {
        entry.insert("source_account".into(), json!(false));
    }
    if let Some(arn) = trust.source_arn {
        entry.insert("source_arn".into(), json!(arn));
    }
    let tags = import::extra_tags(req.spec, &tags_json(r.tags.clone()));
    if !tags.is_empty() {
        entry.insert("tags".into(), Value::Object(tags));
    }
    let files = r
        .inline_policies
        .iter()
        .map(|(pname, doc)| {
            (
                format!("policies.{pname}"),
                format!("iam-{name}-{}.json", import::logical_name(pname)),
                import::template_text(doc),
            )
        })
        .collect::<Vec<_>>();
    let mut comments = Vec::new();
    if !files.is_empty() {
        comments.push(
            "the inline policies are template files: without --write DIR they are left out, and apply would delete them"
                .to_string(),
        );
    }
    let managed = match attached_policies(cx, req.region, &r.name).await {
        Ok(m) => m,
        Err(Step::Gone) => Vec::new(),
        Err(Step::Failed(e)) => return Err(e),
    };
    if !managed.is_empty() {
        comments.push(format!(
            "managed policies attached ({}) are not managed by the spec: they stay attached",
            managed.join(", ")
        ));
    }
    Ok(Imported {
        name,
        entry,
        files,
        comments,
    })
}

/// The role's trust in the spec's terms.
#[derive(Debug, PartialEq)]
struct Trust {
    services: Vec<String>,
    source_account: bool,
    source_arn: Option<String>,
}

/// `live` (a trust policy) as `trust`, `source_account` and `source_arn`, when rebuilding it
/// from them gives it back exactly.
fn spec_trust(live: &Value, account: &str) -> Option<Trust> {
    let stmts = live.get("Statement")?;
    let st = match stmts {
        Value::Array(a) if a.len() == 1 => &a[0],
        Value::Object(_) => stmts,
        _ => return None,
    };
    let services: Vec<String> = match st.pointer("/Principal/Service")? {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let cond = st.get("Condition");
    let source_account = cond
        .and_then(|c| c.pointer("/StringEquals/aws:SourceAccount"))
        .is_some();
    let source_arn = cond
        .and_then(|c| c.pointer("/ArnLike/aws:SourceArn"))
        .and_then(|v| match v {
            // A one-value condition may be written as a list of one.
            Value::Array(a) if a.len() == 1 => a[0].as_str(),
            v => v.as_str(),
        })
        .map(str::to_string);
    let rebuilt = trust_policy(
        &services,
        source_account.then_some(account),
        source_arn.as_deref(),
    );
    (crate::policy::normalize(live) == rebuilt).then_some(Trust {
        services,
        source_account,
        source_arn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_novactl_writes_maps_back() {
        let services = vec!["sagemaker.amazonaws.com".to_string()];
        let live = trust_policy(&services, Some("123456789012"), Some("arn:aws:sagemaker:*"));
        assert_eq!(
            spec_trust(&live, "123456789012"),
            Some(Trust {
                services: services.clone(),
                source_account: true,
                source_arn: Some("arn:aws:sagemaker:*".into()),
            })
        );
        let plain = trust_policy(&services, None, None);
        assert_eq!(
            spec_trust(&plain, "123456789012").map(|t| t.source_account),
            Some(false)
        );
    }

    #[test]
    fn other_trusts_are_refused() {
        let services = vec!["sagemaker.amazonaws.com".to_string()];
        // Another account's condition, an AWS principal, two statements.
        let other = trust_policy(&services, Some("999999999999"), None);
        assert_eq!(spec_trust(&other, "123456789012"), None);
        let aws = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "sts:AssumeRole"}]});
        assert_eq!(spec_trust(&aws, "1"), None);
        let mut two = trust_policy(&services, None, None);
        let s = two["Statement"][0].clone();
        two["Statement"].as_array_mut().unwrap().push(s);
        assert_eq!(spec_trust(&two, "1"), None);
    }
}
