//! Who is in the cluster, changeable while the node runs: the member list
//! and the placement over it, behind one lock so a request never sees a
//! member list and a placement that disagree.
//!
//! A join adds the member to the placement and opens peer connections to
//! it; a removal (a member that left, or one forgotten for good) takes it
//! out. The membership itself moves no data: keys whose primary changed are
//! not on their new owner until written again (the `rehash` lesson
//! measures exactly that), unless `join_stream` pulls them
//! (`machine::stream`) or a leaving node hands them over
//! (`machine::leave`). N, R and W stay as they were clamped when the node
//! started.

use crate::ring::{AnyPlacement, NodeId, Placement, PlacementKind, validate_vnodes};

use super::config::Member;

/// The cluster as this node sees it now.
#[derive(Debug, Clone)]
pub struct Membership {
    /// Every member, this node included, ascending by id.
    pub members: Vec<Member>,
    /// Where keys live among `members`.
    pub placement: AnyPlacement,
}

impl Membership {
    /// The membership of `members` under `kind` (sorted by id here).
    pub fn new(kind: PlacementKind, members: &[Member]) -> Self {
        let mut members = members.to_vec();
        members.sort_by_key(|m| m.id);
        let pairs: Vec<(NodeId, u32)> = members.iter().map(|m| (m.id, m.vnodes)).collect();
        Self {
            placement: kind.build(&pairs),
            members,
        }
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: NodeId) -> bool {
        self.members.binary_search_by_key(&id, |m| m.id).is_ok()
    }

    /// This membership with `member` added (pure: the node applies it).
    pub fn with_member(&self, member: Member) -> Result<Membership, MembershipError> {
        if let Err(e) = validate_vnodes(u64::from(member.vnodes)) {
            return Err(MembershipError::BadVnodes {
                id: member.id,
                msg: e.to_string(),
            });
        }
        let Err(pos) = self.members.binary_search_by_key(&member.id, |m| m.id) else {
            return Err(MembershipError::AlreadyMember(member.id));
        };
        let mut next = self.clone();
        next.placement.add_node(member.id, member.vnodes);
        next.members.insert(pos, member);
        Ok(next)
    }

    /// This membership without member `id` (pure: the node applies it).
    pub fn without(&self, id: NodeId) -> Result<Membership, MembershipError> {
        let Ok(pos) = self.members.binary_search_by_key(&id, |m| m.id) else {
            return Err(MembershipError::NotAMember(id));
        };
        if self.members.len() == 1 {
            return Err(MembershipError::LastMember(id));
        }
        let mut next = self.clone();
        next.placement.remove_node(id);
        next.members.remove(pos);
        Ok(next)
    }
}

/// A membership change that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// The node is already in the cluster.
    #[error("node {0} is already a member; expected a new node id")]
    AlreadyMember(NodeId),
    /// The node to remove is not a member.
    #[error("node {0} is not a member; expected one of the member ids")]
    NotAMember(NodeId),
    /// Removing the node would leave no member.
    #[error("node {0} is the last member; a cluster keeps at least one")]
    LastMember(NodeId),
    /// A node cannot forget itself (it leaves instead).
    #[error("node {0} is this node; expected another member (CLUSTER LEAVE removes this one)")]
    Myself(NodeId),
    /// The node is already leaving.
    #[error("node {0} is already leaving")]
    Leaving(NodeId),
    /// The new member's vnode count is unusable.
    #[error("member {id}: {msg}")]
    BadVnodes {
        /// The member.
        id: NodeId,
        /// What was wrong and what was expected.
        msg: String,
    },
}

/// What a join did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Joined {
    /// Members after the join.
    pub members: usize,
    /// The exact fraction of the hash space whose primary changed.
    pub moved_fraction: f64,
}

/// What a removal did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Removed {
    /// Members after the removal.
    pub members: usize,
    /// The exact fraction of the hash space whose primary changed.
    pub moved_fraction: f64,
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::ring::{ModN, Ring};

    fn member(id: NodeId, vnodes: u32) -> Member {
        Member {
            id,
            addr: SocketAddr::from(([10, 0, 0, id as u8], 6379)),
            vnodes,
        }
    }

    #[test]
    fn a_join_gives_the_placement_a_fresh_build_would() {
        for kind in PlacementKind::ALL {
            let four: Vec<Member> = (1..=4).map(|i| member(i, 32 + i)).collect();
            let mut all = four.clone();
            all.push(member(5, 40));
            let joined = Membership::new(kind, &four)
                .with_member(member(5, 40))
                .unwrap();
            let fresh = Membership::new(kind, &all);
            assert_eq!(joined.members, fresh.members, "{kind}");
            assert_eq!(joined.placement, fresh.placement, "{kind}");
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for i in 0..2000u32 {
                let key = format!("key:{i}");
                joined
                    .placement
                    .preference_list_into(key.as_bytes(), 3, &mut a);
                fresh
                    .placement
                    .preference_list_into(key.as_bytes(), 3, &mut b);
                assert_eq!(a, b, "{kind} {key}");
            }
        }
    }

    #[test]
    fn a_removal_gives_the_placement_a_fresh_build_would() {
        for kind in PlacementKind::ALL {
            let five: Vec<Member> = (1..=5).map(|i| member(i, 32 + i)).collect();
            let m = Membership::new(kind, &five).without(3).unwrap();
            let fresh = Membership::new(kind, &[&five[..2], &five[3..]].concat());
            assert_eq!(m.members, fresh.members, "{kind}");
            assert_eq!(m.placement, fresh.placement, "{kind}");
            assert_eq!(m.without(3).unwrap_err(), MembershipError::NotAMember(3));
        }
        let one = Membership::new(PlacementKind::Ring, &[member(1, 8)]);
        assert_eq!(one.without(1).unwrap_err(), MembershipError::LastMember(1));
    }

    #[test]
    fn members_stay_sorted_and_repeats_and_bad_vnodes_are_refused() {
        let m = Membership::new(PlacementKind::ModN, &[member(3, 8), member(1, 8)]);
        assert_eq!(m.placement, AnyPlacement::ModN(ModN::with_nodes(&[1, 3])));
        let m2 = m.with_member(member(2, 8)).unwrap();
        let ids: Vec<NodeId> = m2.members.iter().map(|m| m.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert!(m2.contains(2) && !m.contains(2));
        assert_eq!(
            m2.with_member(member(2, 8)).unwrap_err(),
            MembershipError::AlreadyMember(2)
        );
        let bad = m2.with_member(member(9, 0)).unwrap_err();
        assert!(
            matches!(bad, MembershipError::BadVnodes { id: 9, .. }),
            "{bad}"
        );
        let ring = Membership::new(PlacementKind::Ring, &[member(1, 8)]);
        assert_eq!(
            ring.placement,
            AnyPlacement::Ring(Ring::with_nodes(&[(1, 8)]))
        );
    }
}
