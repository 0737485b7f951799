//! Security-group rule peers that are AWS prefix lists (`prefix_list:` in a rule). A gateway
//! endpoint's traffic (S3, DynamoDB) goes to the addresses of the service's AWS-managed prefix
//! list, not to the VPC's CIDR, so a group that reaches S3 through the gateway endpoint needs
//! an egress rule to that list. Its id differs per region, so a rule names the service:
//! the desired state holds `pl:<service>` (`pl:s3`); create and update resolve it to the
//! region's list id with DescribePrefixLists ([`resolve`]), and reading a group turns a live
//! rule's list id back into `pl:<service>` ([`named`]), so desired and observed compare (the
//! same way a DR twin's zones go, see `zones.rs`). A literal `pl-…` id stays `pl:pl-…`.

use std::collections::BTreeMap;

use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::resources::kit::ec2::Rule;
use crate::resources::Ctx;

pub const PERMISSIONS: &[Perm] = &[perm(
    "ec2:DescribePrefixLists",
    &["ec2:DescribePrefixLists"],
    &["*"],
)];

/// The services with a gateway endpoint, whose AWS-managed prefix list a rule may name.
pub const GATEWAY_SERVICES: &[&str] = &["s3", "dynamodb"];

/// The rule peer of a spec's `prefix_list:` value (`pl:s3`, `pl:pl-0123abcd`); `Err` says why
/// the value is neither a gateway service nor a prefix-list id.
pub fn peer_of(value: &str) -> Result<String, String> {
    let is_id = value
        .strip_prefix("pl-")
        .is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if is_id || GATEWAY_SERVICES.contains(&value) {
        return Ok(format!("pl:{value}"));
    }
    Err(format!(
        "`{value}` is not a prefix list: a gateway endpoint service ({}) or a prefix-list id \
         (pl-0123456789abcdef0){}",
        GATEWAY_SERVICES.join(", "),
        crate::suggest::did_you_mean(value, GATEWAY_SERVICES.iter().copied())
    ))
}

/// Does any rule name a prefix list by its service?
pub fn names_a_service(rules: &[Rule]) -> bool {
    rules.iter().any(|r| service_of(r).is_some())
}

fn service_of(r: &Rule) -> Option<&str> {
    r.peer
        .strip_prefix("pl:")
        .filter(|s| GATEWAY_SERVICES.contains(s))
}

/// The gateway services' prefix lists of `region`: list id -> service short name.
pub async fn gateway_lists(
    cx: &Ctx<'_>,
    region: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let names: Vec<String> = GATEWAY_SERVICES
        .iter()
        .map(|s| format!("com.amazonaws.{region}.{s}"))
        .collect();
    let mut out = BTreeMap::new();
    let mut next: Option<String> = None;
    loop {
        let page = cx
            .clients(region)
            .ec2
            .describe_prefix_lists()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("prefix-list-name")
                    .set_values(Some(names.clone()))
                    .build(),
            )
            .set_next_token(next.take())
            .send()
            .await
            .map_err(AwsError::from_sdk("ec2:DescribePrefixLists"))?;
        for l in page.prefix_lists() {
            let (Some(id), Some(name)) = (l.prefix_list_id(), l.prefix_list_name()) else {
                continue;
            };
            if let Some(s) = name.strip_prefix(&format!("com.amazonaws.{region}.")) {
                out.insert(id.to_string(), s.to_string());
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// `rules` with each gateway list id (`pl:pl-…` of `lists`) named by its service (`pl:s3`).
pub fn named(rules: Vec<Rule>, lists: &BTreeMap<String, String>) -> Vec<Rule> {
    let mut out: Vec<Rule> = rules
        .into_iter()
        .map(|mut r| {
            if let Some(s) = r.peer.strip_prefix("pl:").and_then(|id| lists.get(id)) {
                r.peer = format!("pl:{s}");
            }
            r
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `rules` with each service-named list (`pl:s3`) replaced by its id in `lists`; an error
/// names the service `region` has no list for.
pub fn resolve(
    region: &str,
    rules: &[Rule],
    lists: &BTreeMap<String, String>,
) -> Result<Vec<Rule>, AwsError> {
    rules
        .iter()
        .map(|r| {
            let Some(s) = service_of(r) else {
                return Ok(r.clone());
            };
            let Some((id, _)) = lists.iter().find(|(_, v)| v.as_str() == s) else {
                return Err(AwsError::local(
                    "ec2:DescribePrefixLists",
                    "InvalidPrefixListName.NotFound",
                    format!("{region} has no AWS prefix list com.amazonaws.{region}.{s}"),
                ));
            };
            Ok(Rule {
                peer: format!("pl:{id}"),
                ..r.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_name_services_or_ids_and_round_trip() {
        assert_eq!(peer_of("s3").unwrap(), "pl:s3");
        assert_eq!(peer_of("pl-63a5400a").unwrap(), "pl:pl-63a5400a");
        let e = peer_of("s4").unwrap_err();
        assert!(e.contains("s3, dynamodb"), "{e}");
        assert!(peer_of("pl-xyz").is_err());
        assert!(peer_of("sagemaker.api").is_err());

        let lists: BTreeMap<String, String> =
            [("pl-aaaa1111".to_string(), "s3".to_string())].into();
        let want = vec![
            Rule::new("tcp", 443, 443, "10.0.0.0/16".into()),
            Rule::new("tcp", 443, 443, "pl:s3".into()),
            Rule::new("tcp", 443, 443, "pl:pl-bbbb2222".into()),
        ];
        assert!(names_a_service(&want));
        let ids = resolve("us-east-1", &want, &lists).unwrap();
        assert!(ids.iter().any(|r| r.peer == "pl:pl-aaaa1111"));
        assert!(!names_a_service(&ids));
        let mut back = named(ids, &lists);
        back.sort();
        let mut w = want.clone();
        w.sort();
        assert_eq!(back, w);
        let e = resolve("us-east-1", &want, &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("com.amazonaws.us-east-1.s3"), "{e}");
    }
}
