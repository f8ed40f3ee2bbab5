//! The `--stage NAME` side of commands: the same operation on every host
//! of a stage, driven from this machine over OpenSSH (`hoist-fleet`).

pub(crate) mod deploy;
