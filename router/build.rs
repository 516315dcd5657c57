//! Records the git commit for `sendjay_build_info`; the same script as the node's.
include!("../node/build.rs");
