//! Error messages say each cause once.

use std::error::Error as _;

// "cannot open artifact `dist/nope.tar.zst`: No such file or directory (os
// error 2): No such file or directory (os error 2)": the io error was both
// quoted in the message and returned as its `source()`, so a renderer that
// walks the chain said it twice.
#[test]
fn missing_artifact_repeated_its_cause() {
    let error = hoist_store::Artifact::open("dist/nope.tar.zst".as_ref(), u64::MAX).unwrap_err();
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    assert_eq!(
        chain.matches("No such file or directory").count(),
        1,
        "{chain}"
    );
}
