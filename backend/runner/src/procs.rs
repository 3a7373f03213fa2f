//! Telling this process from others in NVML's list of compute processes.
//!
//! NVML reports PIDs as the host's kernel sees them. Inside a container (its
//! own PID namespace) this process has another PID, so `pid != our pid` would
//! count the runner itself as "another process" and refuse to start. The rule:
//!
//! 1. A listed PID equal to ours is ours (no namespace in between).
//! 2. If ours is not listed once our CUDA context exists, PIDs are translated:
//!    the one PID that appeared between opening the meter (before the CUDA
//!    context) and now is ours. That appearance is the evidence.
//! 3. Every other PID is another process, and so is every new one when more
//!    than one appeared (we cannot tell which is ours: refuse rather than guess).

/// The identity of this process in NVML's list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessIdentity {
    /// `std::process::id()`: our PID in our own namespace.
    pub own_pid: u32,
    /// NVML's list when the meter opened, before our CUDA context existed.
    pub baseline: Vec<u32>,
    /// Our PID as NVML reports it, when rule 2 found it.
    pub adopted: Option<u32>,
}

impl ProcessIdentity {
    pub fn new(own_pid: u32, baseline: Vec<u32>) -> Self {
        ProcessIdentity {
            own_pid,
            baseline,
            adopted: None,
        }
    }

    /// Apply rules 1 and 2 to NVML's list now that our context exists; says
    /// how we were found (for the record).
    pub fn identify(&mut self, listed: &[u32]) -> String {
        if listed.contains(&self.own_pid) {
            self.adopted = None;
            return format!("pid {}", self.own_pid);
        }
        let new: Vec<u32> = listed
            .iter()
            .copied()
            .filter(|p| !self.baseline.contains(p))
            .collect();
        match new.as_slice() {
            [one] => {
                self.adopted = Some(*one);
                format!(
                    "nvml pid {one} (own pid {} not listed: PID namespace; the one process that appeared with our CUDA context)",
                    self.own_pid
                )
            }
            [] => format!(
                "pid {} (not listed by NVML: no compute context seen)",
                self.own_pid
            ),
            many => format!(
                "pid {} not listed and {} processes appeared with our CUDA context ({many:?}): cannot tell which is ours",
                self.own_pid,
                many.len()
            ),
        }
    }

    /// The PIDs of `listed` that are other processes.
    pub fn others(&self, listed: &[u32]) -> Vec<u32> {
        listed
            .iter()
            .copied()
            .filter(|p| *p != self.own_pid && Some(*p) != self.adopted)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_pid_listed_directly() {
        let mut id = ProcessIdentity::new(4242, vec![100]);
        assert_eq!(id.identify(&[100, 4242]), "pid 4242");
        assert_eq!(id.others(&[100, 4242]), vec![100]);
    }

    #[test]
    fn in_a_container_the_new_pid_is_ours_and_old_ones_are_others() {
        let mut id = ProcessIdentity::new(7, vec![100]);
        let how = id.identify(&[100, 812345]);
        assert!(how.starts_with("nvml pid 812345"), "{how}");
        assert_eq!(id.others(&[100, 812345]), vec![100]);
        // A process that starts later is another one.
        assert_eq!(id.others(&[812345, 900001]), vec![900001]);
    }

    #[test]
    fn two_new_pids_cannot_be_told_apart() {
        let mut id = ProcessIdentity::new(7, vec![]);
        id.identify(&[812345, 812346]);
        assert_eq!(id.others(&[812345, 812346]), vec![812345, 812346]);
    }
}
