//! `sh!`: values are quoted so that no value can inject shell syntax.

use agentcore_sdk::{Command, sh};
use proptest::prelude::*;

fn bash_output(cmd: &Command) -> Vec<u8> {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(cmd.as_str())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash failed for {cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// For any NUL-free string, the command prints it back byte for byte.
    #[test]
    fn any_value_round_trips_through_bash(value in any::<String>().prop_filter("no NUL", |s| !s.contains('\0'))) {
        let cmd = sh!("printf %s {value}");
        prop_assert_eq!(bash_output(&cmd), value.as_bytes().to_vec());
    }

    /// Values built from shell metacharacters cannot escape their word.
    #[test]
    fn metacharacters_stay_literal(parts in proptest::collection::vec(prop_oneof![
        Just("'"), Just("\""), Just("$"), Just("`"), Just("\\"), Just("\n"), Just(";"), Just("&&"),
        Just("$(id)"), Just("${HOME}"), Just("*"), Just("?"), Just("~"), Just("!"), Just("#"),
        Just(" "), Just("\t"), Just("|"), Just(">"), Just("<"), Just("("), Just(")"), Just("{a,b}"),
        Just("é"), Just("🚀"), Just("a=b"), Just("-n"),
    ], 0..12)) {
        let value: String = parts.concat();
        let cmd = sh!("printf '%s|' {value} {value}");
        prop_assert_eq!(bash_output(&cmd), format!("{value}|{value}|").into_bytes());
    }
}

#[test]
fn positional_named_captured_and_raw() {
    let dir = "/mnt/workspace/my repo";
    let msg = "fix: don't drop $HOME";
    let cmd = sh!("cd {dir} && git commit -am {msg}");
    assert_eq!(
        cmd.to_string(),
        r#"cd '/mnt/workspace/my repo' && git commit -am 'fix: don'\''t drop $HOME'"#
    );
    let cmd = sh!("echo {} {1} {0} {n}", "a b", 2, n = "x;y");
    assert_eq!(cmd.to_string(), "echo 'a b' 2 'a b' 'x;y'");
    let pipeline = "sort | uniq -c";
    let cmd = sh!("cat {f} | {pipeline:raw} {{literal}}", f = "in put");
    assert_eq!(cmd.to_string(), "cat 'in put' | sort | uniq -c {literal}");
    assert_eq!(sh!("echo {}", "").to_string(), "echo ''");
}

#[test]
fn sh_commands_are_accepted_by_the_sdk() {
    // A `sh!` value is a `Command`: the builders take it directly.
    let c: Command = sh!("echo {}", "x");
    assert!(c.validate().is_ok());
    assert!(Command::from("a\0b").validate().is_err());
}

#[test]
fn compile_errors_point_at_the_problem() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
}
