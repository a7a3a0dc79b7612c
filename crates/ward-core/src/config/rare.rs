//! Parts of a service's config that most services leave unset, boxed only when set.
//!
//! A daemon of thousands of services keeps every service's config for its whole life.
//! Inline, `rlimits`, the lifecycle hooks and `user`/`group` cost 296 bytes a service,
//! set or not; behind [`Rare`] an unset one costs a pointer's width.

use std::ops::Deref;

use super::model::{Lifecycle, Rlimits, RunAs};

/// A config part with a constant unset value, to which an unset [`Rare`] derefs.
pub trait Unset: PartialEq + 'static {
    /// The part as a service that does not set it has it.
    const UNSET: &'static Self;
}

/// `T`, boxed when it differs from [`Unset::UNSET`]; read through `Deref` as a `T`.
#[derive(Clone, PartialEq, Eq)]
pub struct Rare<T: Unset>(Option<Box<T>>);

impl<T: Unset> Rare<T> {
    /// Holds `value`, boxed only when it is not the unset value.
    pub fn new(value: T) -> Rare<T> {
        Rare((&value != T::UNSET).then(|| Box::new(value)))
    }
}

impl<T: Unset> Default for Rare<T> {
    fn default() -> Rare<T> {
        Rare(None)
    }
}

impl<T: Unset> Deref for Rare<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_deref().unwrap_or(T::UNSET)
    }
}

impl<T: Unset + std::fmt::Debug> std::fmt::Debug for Rare<T> {
    /// As the value itself: the box is no part of what the config says.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

// The parts kept as `Rare`: `rlimits`, the lifecycle hooks and `user`/`group`.
impl Unset for Lifecycle {
    const UNSET: &'static Lifecycle = &Lifecycle {
        pre_start: None,
        post_start: None,
        pre_stop: None,
        post_stop: None,
    };
}

impl Unset for RunAs {
    const UNSET: &'static RunAs = &RunAs {
        user: None,
        group: None,
        groups: None,
    };
}

impl Unset for Rlimits {
    const UNSET: &'static Rlimits = &Rlimits {
        cpu: None,
        fsize: None,
        nofile: None,
        core: None,
        nproc: None,
        memlock: None,
        r#as: None,
        stack: None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_part_is_not_boxed_and_reads_as_unset() {
        let unset = Rare::new(Rlimits::default());
        assert!(unset.0.is_none());
        assert_eq!(*unset, Rlimits::default());
        assert_eq!(unset, Rare::default());
        let set = Rare::new(Rlimits {
            nofile: Some(256),
            ..Rlimits::default()
        });
        assert_eq!(set.nofile, Some(256));
        assert_ne!(set, unset);
        let hooks = Rare::new(Lifecycle {
            pre_start: Some(vec!["true".into()]),
            ..Lifecycle::default()
        });
        assert_eq!(format!("{hooks:?}"), format!("{:?}", *hooks));
        assert_eq!(std::mem::size_of::<Rare<Lifecycle>>(), 8);
    }

    #[test]
    fn each_unset_value_is_the_default() {
        assert_eq!(Lifecycle::UNSET, &Lifecycle::default());
        assert_eq!(RunAs::UNSET, &RunAs::default());
        assert_eq!(Rlimits::UNSET, &Rlimits::default());
    }
}
