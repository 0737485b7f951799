//! The availability zones of a DR twin's subnets. AZ letters differ between regions (and
//! between accounts in some regions), so a twin network does not reuse its primary's letters:
//! the primary's distinct AZ letters, in order, take the DR region's availability zones in
//! name order (`a`, `b` in us-east-1 → the first and second zone of us-west-2). Which zones a
//! region has is known only from AWS, so a twin's desired state names a zone by its rank
//! ([`ranked`]: `us-west-2 zone 1`); create and update resolve the rank to the zone's name
//! ([`resolve`]), and reading a twin turns the live zone's name back into its rank ([`rank_of`]),
//! so desired and observed compare.

use std::collections::BTreeSet;

use super::NetworkState;
use crate::aws::AwsError;
use crate::permissions::{perm, Perm};
use crate::spec::model::Network;

pub const PERMISSIONS: &[Perm] = &[perm(
    "ec2:DescribeAvailabilityZones",
    &["ec2:DescribeAvailabilityZones"],
    &["*"],
)];

/// The zone of rank `k` (1-based) of `region`, as a twin's desired state names it.
pub fn ranked(region: &str, k: usize) -> String {
    format!("{region} zone {k}")
}

/// The rank (1-based) of the AZ letter `letter` among the network's distinct AZ letters.
pub fn rank_in(n: &Network, letter: &str) -> usize {
    let letters: BTreeSet<&str> = n.subnets.values().map(|s| s.az.as_str()).collect();
    letters.iter().position(|l| *l == letter).unwrap_or(0) + 1
}

fn rank_from(region: &str, az: &str) -> Option<usize> {
    az.strip_prefix(region)?
        .strip_prefix(" zone ")?
        .parse()
        .ok()
        .filter(|k| *k > 0)
}

/// The available availability zones of `region` (no Local or Wavelength zones), in name order.
pub async fn zones_of(
    cx: &crate::resources::Ctx<'_>,
    region: &str,
) -> Result<Vec<String>, AwsError> {
    let out = cx
        .clients(region)
        .ec2
        .describe_availability_zones()
        .send()
        .await
        .map_err(AwsError::from_sdk("ec2:DescribeAvailabilityZones"))?;
    let mut v: Vec<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter(|z| z.state().is_none_or(|s| s.as_str() == "available"))
        .filter_map(|z| z.zone_name().map(String::from))
        .collect();
    v.sort();
    Ok(v)
}

/// `d` with every ranked zone replaced by the zone's name; an error names the subnet whose
/// rank `region` has no zone for.
pub fn resolve(
    region: &str,
    zones: &[String],
    mut d: NetworkState,
) -> Result<NetworkState, AwsError> {
    for (name, s) in d.subnets.iter_mut() {
        if let Some(k) = rank_from(region, &s.az) {
            let Some(z) = zones.get(k - 1) else {
                return Err(AwsError::local(
                    "ec2:DescribeAvailabilityZones",
                    "NotEnoughZones",
                    format!(
                        "subnet `{name}` takes zone {k} of {region} (its primary's AZ letters in \
                         order), but {region} has {} available: {}",
                        zones.len(),
                        zones.join(", ")
                    ),
                ));
            };
            s.az = z.clone();
        }
    }
    Ok(d)
}

/// A live zone name as a twin's desired state names it (its rank among `zones`); unchanged
/// when it is not one of them.
pub fn rank_of(region: &str, zones: &[String], az: &str) -> String {
    zones
        .iter()
        .position(|z| z == az)
        .map_or_else(|| az.to_string(), |i| ranked(region, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_round_trip_and_letters_rank_in_order() {
        let zones: Vec<String> = ["us-west-2a", "us-west-2b", "us-west-2c"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            rank_of("us-west-2", &zones, "us-west-2b"),
            "us-west-2 zone 2"
        );
        assert_eq!(rank_of("us-west-2", &zones, "us-west-2z"), "us-west-2z");
        assert_eq!(rank_from("us-west-2", "us-west-2 zone 2"), Some(2));
        assert_eq!(rank_from("us-west-2", "us-west-2b"), None);
        assert_eq!(rank_from("us-west-2", "us-west-2 zone 0"), None);
        let n: Network = serde_yaml::from_str(
            "cidr: 10.0.0.0/16\nsubnets:\n  x: { cidr: 10.0.1.0/24, az: c }\n  \
             y: { cidr: 10.0.2.0/24, az: b }\n  z: { cidr: 10.0.3.0/24, az: c }\n",
        )
        .unwrap();
        assert_eq!(rank_in(&n, "b"), 1);
        assert_eq!(rank_in(&n, "c"), 2);
    }
}
