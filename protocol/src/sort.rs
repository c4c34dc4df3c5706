//! The fleet list's sort vocabulary: `sort=name`, `sort=-reputation_score`, …. The
//! registry parses it and maps each key to its index; the dashboard offers it in a menu
//! and keeps it in the URL. Both read the names from here.

use std::fmt;

/// A column the fleet list sorts by; ties are broken by `sekuire_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Name,
    ReputationScore,
    LastHeartbeatAt,
    RuntimeStatus,
    UpdatedAt,
}

impl SortKey {
    pub const ALL: [SortKey; 5] = [
        Self::Name,
        Self::ReputationScore,
        Self::LastHeartbeatAt,
        Self::RuntimeStatus,
        Self::UpdatedAt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::ReputationScore => "reputation_score",
            Self::LastHeartbeatAt => "last_heartbeat_at",
            Self::RuntimeStatus => "runtime_status",
            Self::UpdatedAt => "updated_at",
        }
    }
}

/// Sort order of the fleet list: a key, and `-` in front for descending. The default is
/// by name, ascending, which is also what an absent or empty `sort` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AgentSort {
    pub key: SortKey,
    pub descending: bool,
}

impl AgentSort {
    pub const fn by(key: SortKey, descending: bool) -> AgentSort {
        AgentSort { key, descending }
    }
}

impl fmt::Display for AgentSort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.descending {
            f.write_str("-")?;
        }
        f.write_str(self.key.as_str())
    }
}

impl std::str::FromStr for AgentSort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (descending, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        SortKey::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .map(|key| AgentSort { key, descending })
            .ok_or_else(|| {
                let names: Vec<&str> = SortKey::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "cannot sort by `{s}`: sort is one of {}, with `-` in front for descending",
                    names.join(", ")
                )
            })
    }
}

/// The pattern of a `sort` parameter, as the OpenAPI document publishes it (empty allowed).
pub fn sort_pattern() -> String {
    let names: Vec<&str> = SortKey::ALL.iter().map(|k| k.as_str()).collect();
    format!("^(-?({}))?$", names.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_read_and_write_the_same_spec() {
        for key in SortKey::ALL {
            for descending in [false, true] {
                let sort = AgentSort::by(key, descending);
                assert_eq!(sort.to_string().parse::<AgentSort>(), Ok(sort));
            }
        }
        assert_eq!(
            "-reputation_score".parse(),
            Ok(AgentSort::by(SortKey::ReputationScore, true))
        );
        assert!("colour"
            .parse::<AgentSort>()
            .unwrap_err()
            .contains("reputation_score"));
        assert_eq!(AgentSort::default().to_string(), "name");
        assert_eq!(
            sort_pattern(),
            "^(-?(name|reputation_score|last_heartbeat_at|runtime_status|updated_at))?$"
        );
    }
}
