//! References between resources, checked and resolved in one place: the account of the
//! render context, a `kms_key:` naming a spec key, ARNs computable from the spec.

use crate::spec::render::Renderer;
use crate::spec::{LoadedSpec, SpecError};

/// The account id from the render context (`{{ account_id }}`).
pub fn account(r: &Renderer) -> String {
    r.str("account_id", "{{ account_id }}").unwrap_or_default()
}

/// Checks that `k` (at `key_path`) names a `kms.*` entry of the spec; returns its address.
pub fn kms_ref(spec: &LoadedSpec, key_path: &str, k: &str) -> Result<String, SpecError> {
    if spec.spec.kms.contains_key(k) {
        Ok(format!("kms.{k}"))
    } else {
        let known: Vec<&str> = spec.spec.kms.keys().map(String::as_str).collect();
        Err(spec.error(
            key_path,
            format!(
                "`{k}` is not a key in the spec's `kms` section (defined: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ))
    }
}

/// The ARN of a spec key `k` as the render context knows it (`{{ kms.<k>.arn }}`: known
/// after the key is made), after checking the reference.
pub fn kms_arn(
    spec: &LoadedSpec,
    r: &Renderer,
    key_path: &str,
    k: &str,
) -> Result<String, SpecError> {
    kms_ref(spec, key_path, k)?;
    r.str(key_path, &format!("{{{{ kms.{k}.arn }}}}"))
}

/// `arn:aws:s3:::<bucket>`.
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// `arn:aws:iam::<account>:role/<name>`.
pub fn role_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

/// `arn:aws:sns:<region>:<account>:<name>`.
pub fn topic_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{name}")
}

/// S3's naming rules for general purpose buckets; the reason when `name` breaks one.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err(format!(
            "it has {} characters; 3 to 63 are allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "`{c}` is not allowed; use lowercase letters, digits, dots and hyphens"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err("it must begin and end with a letter or digit".into());
    }
    if name.contains("..") {
        return Err("it must not contain two adjacent dots".into());
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("it must not look like an IP address".into());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!("the prefix `{prefix}` is reserved by AWS"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!("the suffix `{suffix}` is reserved by AWS"));
        }
    }
    Ok(())
}

/// Checks a model's `vpc` at `key`: by reference (`network` + `security_groups` naming spec
/// entries of that network) or literal ids (`subnets` + `security_groups`); returns the
/// addresses it refers to (empty for literal ids).
pub fn vpc_refs(
    spec: &LoadedSpec,
    key: &str,
    v: &crate::spec::model::Vpc,
) -> Result<Vec<String>, SpecError> {
    let Some(net) = &v.network else {
        if v.subnets.is_empty() || v.security_groups.is_empty() {
            return Err(spec.error(
                key,
                "a VPC config needs at least one subnet and one security group (or `network` \
                 and the names of its security groups)",
            ));
        }
        return Ok(Vec::new());
    };
    if !spec.spec.network.contains_key(net) {
        return Err(spec.error(
            &format!("{key}.network"),
            format!(
                "`{net}` is not a network of the spec's `network` section{}",
                crate::suggest::did_you_mean(net, spec.spec.network.keys().map(String::as_str))
            ),
        ));
    }
    if !v.subnets.is_empty() {
        return Err(spec.error(
            &format!("{key}.subnets"),
            "give `network` (its private subnets) or subnet ids, not both",
        ));
    }
    if v.security_groups.is_empty() {
        return Err(spec.error(
            &format!("{key}.security_groups"),
            "name at least one group of the spec's `security_groups`",
        ));
    }
    let mut deps = vec![format!("network.{net}")];
    for (i, g) in v.security_groups.iter().enumerate() {
        match spec.spec.security_groups.get(g) {
            Some(sg) if sg.network == *net => deps.push(format!("security_group.{g}")),
            Some(sg) => {
                return Err(spec.error(
                    &format!("{key}.security_groups.{i}"),
                    format!("`{g}` is in network `{}`, not `{net}`", sg.network),
                ))
            }
            None => {
                return Err(spec.error(
                    &format!("{key}.security_groups.{i}"),
                    format!(
                        "`{g}` is not a group of the spec's `security_groups`{}",
                        crate::suggest::did_you_mean(
                            g,
                            spec.spec.security_groups.keys().map(String::as_str)
                        )
                    ),
                ))
            }
        }
    }
    Ok(deps)
}

/// The (security group ids, subnet ids) of a checked `vpc` (see [`vpc_refs`]): by reference,
/// the network's private subnets and the groups' ids from the render context ("(known after
/// apply)" until they exist); literal ids as written.
pub fn vpc_ids(r: &Renderer, v: &crate::spec::model::Vpc) -> (Vec<String>, Vec<String>) {
    use crate::spec::render::UNKNOWN;
    let Some(net) = &v.network else {
        return (v.security_groups.clone(), v.subnets.clone());
    };
    let subnets = match r.value("network").map(|n| &n[net]["subnet_ids"]) {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        _ => vec![UNKNOWN.to_string()],
    };
    let groups = v
        .security_groups
        .iter()
        .map(|g| {
            r.value("security_group")
                .and_then(|s| s[g]["id"].as_str())
                .unwrap_or(UNKNOWN)
                .to_string()
        })
        .collect();
    (groups, subnets)
}
